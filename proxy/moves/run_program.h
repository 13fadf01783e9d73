// Runs a program (pg_dump) and collects its standard output; blocking, for move threads.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shardgate::moves {

// argv[0] is looked up in PATH; `env` entries ("NAME=value") are added to the environment.
// Fails with the program's standard error when it exits non-zero. When `stop` turns true the
// program is killed and the call fails with kCancelled (a pg_dump waiting on a lock must not
// hold CANCEL MOVE hostage).
absl::StatusOr<std::string> run_program(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env,
                                        const std::atomic<bool>* stop = nullptr);

}  // namespace shardgate::moves
