// Runs a program (pg_dump) and collects its standard output; blocking, for move threads.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shardgate::moves {

// argv[0] is looked up in PATH; `env` entries ("NAME=value") are added to the environment.
// Fails with the program's standard error when it exits non-zero.
absl::StatusOr<std::string> run_program(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env);

}  // namespace shardgate::moves
