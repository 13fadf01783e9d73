// Durable directory changes: the directory file is replaced atomically (temp file in the same
// folder, fsync, rename, fsync of the folder), so a crash at any point leaves either the old
// or the new file, never a torn one. Blocking file I/O: call from the control plane only.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace shardgate::proxy {

absl::Status write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace shardgate::proxy
