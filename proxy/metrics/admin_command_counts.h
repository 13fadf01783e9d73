// How many admin commands ran, by command and result ("ok" | "error"): counted by the admin
// socket, exported by /metrics as shardgate_admin_commands_total{command,result}.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace shardgate::proxy {

class AdminCommandCounts {
 public:
  void record(const std::string& command, bool ok) {
    std::lock_guard lock(mu_);
    ++counts_[{command, ok ? "ok" : "error"}];
  }
  std::map<std::pair<std::string, std::string>, uint64_t> snapshot() const {
    std::lock_guard lock(mu_);
    return counts_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> counts_;
};

}  // namespace shardgate::proxy
