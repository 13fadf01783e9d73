#include "proxy/tenants/query_window.h"

#include "absl/container/flat_hash_set.h"

namespace shardgate::proxy {

void QueryWindow::mark(const std::vector<std::pair<std::string, uint64_t>>& counts) {
  std::lock_guard lock(mu_);
  const size_t slot = marks_ % kSlots;
  absl::flat_hash_set<std::string> present;
  present.reserve(counts.size());
  for (const auto& [tenant, count] : counts) {
    // A tenant first seen now had no queries at the earlier marks: its new ring is zeros.
    rings_[tenant][slot] = count;
    present.insert(tenant);
  }
  absl::erase_if(rings_, [&](const auto& entry) { return !present.contains(entry.first); });
  ++marks_;
}

uint64_t QueryWindow::last_hour(const std::string& tenant, uint64_t count_now) const {
  std::lock_guard lock(mu_);
  // Until a full hour of marks exists, every query since the start is in the window.
  if (marks_ < static_cast<uint64_t>(kSlots)) return count_now;
  auto it = rings_.find(tenant);
  if (it == rings_.end()) return count_now;
  // The mark taken kMarksPerHour marks before the newest sits in the slot written next.
  uint64_t baseline = it->second[marks_ % kSlots];
  return count_now >= baseline ? count_now - baseline : count_now;
}

}  // namespace shardgate::proxy
