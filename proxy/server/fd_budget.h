// The open-file budget. At start the process raises its soft RLIMIT_NOFILE to the hard limit
// (many service managers start processes at 1,024 or 4,096 under a far higher hard limit),
// then works out how many clients the descriptors left over can carry: that number is
// max_client_conn's `auto` value, so the client after it gets FATAL 53300 instead of an
// accept() that fails with "Too many open files" and leaves it hanging.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "routing/directory.h"

namespace shardgate::proxy {

struct FdLimit {
  uint64_t before = 0;  // the soft limit the process was started with
  uint64_t soft = 0;    // the soft limit now
  uint64_t hard = 0;
  std::string error;  // why raising failed; empty when it worked or was not needed
};

// Raises the soft open-file limit to the hard one (or to fs.nr_open when the hard limit is
// unlimited).
FdLimit raise_open_file_limit();
// The current soft open-file limit.
uint64_t open_file_limit();

struct FdBudget {
  uint64_t open_files = 0;          // the soft limit
  uint64_t server_connections = 0;  // what the pools may hold open at once
  uint64_t process = 0;  // event loops, listeners, admin and metrics connections, files, margin
  int clients = 0;       // open_files - server_connections - process, at least 0
};

// `workers`: the number of worker threads (each has an event loop and a listener).
FdBudget fd_budget(const config::Config& config, const routing::Directory& directory, int workers,
                   uint64_t open_files);

}  // namespace shardgate::proxy
