#include "proxy/moves/move_journal.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

namespace shardgate::moves {

namespace {

constexpr std::array<std::string_view, 9> kPhaseNames = {
    "planned", "schema", "copy", "catchup", "cutover", "cleanup", "done", "rolled_back", "failed"};

}  // namespace

std::string_view phase_name(MovePhase phase) { return kPhaseNames[static_cast<size_t>(phase)]; }

std::optional<MovePhase> phase_from_name(std::string_view name) {
  for (size_t i = 0; i < kPhaseNames.size(); ++i)
    if (kPhaseNames[i] == name) return static_cast<MovePhase>(i);
  return std::nullopt;
}

bool phase_final(MovePhase phase) {
  return phase == MovePhase::kDone || phase == MovePhase::kRolledBack;
}

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string MoveJournal::format(uint64_t next_id, const std::map<uint64_t, MoveRecord>& records) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "next_id" << YAML::Value << next_id;
  out << YAML::Key << "moves" << YAML::Value << YAML::BeginSeq;
  for (const auto& [id, r] : records) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << r.id;
    out << YAML::Key << "tenant" << YAML::Value << YAML::DoubleQuoted << r.tenant;
    out << YAML::Key << "from" << YAML::Value << YAML::DoubleQuoted << r.from;
    out << YAML::Key << "to" << YAML::Value << YAML::DoubleQuoted << r.to;
    out << YAML::Key << "schema" << YAML::Value << YAML::DoubleQuoted << r.schema;
    out << YAML::Key << "role" << YAML::Value << YAML::DoubleQuoted << r.role;
    out << YAML::Key << "mode" << YAML::Value << r.mode;
    out << YAML::Key << "subscription_oid" << YAML::Value << YAML::DoubleQuoted
        << r.subscription_oid;
    out << YAML::Key << "phase" << YAML::Value << std::string(phase_name(r.phase));
    out << YAML::Key << "target_schema_ours" << YAML::Value << r.target_schema_ours;
    out << YAML::Key << "role_created" << YAML::Value << r.role_created;
    out << YAML::Key << "flipped" << YAML::Value << r.flipped;
    out << YAML::Key << "data_dropped" << YAML::Value << r.data_dropped;
    out << YAML::Key << "rows" << YAML::Value << r.rows;
    out << YAML::Key << "bytes" << YAML::Value << r.bytes;
    out << YAML::Key << "copy_seconds" << YAML::Value << r.copy_seconds;
    out << YAML::Key << "pause_ms" << YAML::Value << r.pause_ms;
    out << YAML::Key << "started" << YAML::Value << r.started;
    out << YAML::Key << "updated" << YAML::Value << r.updated;
    out << YAML::Key << "error" << YAML::Value << YAML::DoubleQuoted << r.error;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

absl::Status MoveJournal::parse(const std::string& text, uint64_t& next_id,
                                std::map<uint64_t, MoveRecord>& records) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) return absl::OkStatus();
    next_id = root["next_id"].as<uint64_t>(1);
    for (const auto& m : root["moves"]) {
      MoveRecord r;
      r.id = m["id"].as<uint64_t>();
      r.tenant = m["tenant"].as<std::string>();
      r.from = m["from"].as<std::string>();
      r.to = m["to"].as<std::string>();
      r.schema = m["schema"].as<std::string>();
      r.role = m["role"].as<std::string>("");
      r.mode = m["mode"].as<std::string>("online");
      r.subscription_oid = m["subscription_oid"].as<std::string>("");
      auto phase = phase_from_name(m["phase"].as<std::string>());
      if (!phase) return absl::DataLossError("move " + std::to_string(r.id) + ": unknown phase");
      r.phase = *phase;
      r.target_schema_ours = m["target_schema_ours"].as<bool>(false);
      r.role_created = m["role_created"].as<bool>(false);
      r.flipped = m["flipped"].as<bool>(false);
      r.data_dropped = m["data_dropped"].as<bool>(false);
      r.rows = m["rows"].as<int64_t>(0);
      r.bytes = m["bytes"].as<int64_t>(0);
      r.copy_seconds = m["copy_seconds"].as<double>(0);
      r.pause_ms = m["pause_ms"].as<double>(0);
      r.started = m["started"].as<std::string>("");
      r.updated = m["updated"].as<std::string>("");
      r.error = m["error"].as<std::string>("");
      if (r.id >= next_id) next_id = r.id + 1;
      records[r.id] = std::move(r);
    }
  } catch (const YAML::Exception& e) {
    return absl::DataLossError(std::string("unreadable move journal: ") + e.what());
  }
  return absl::OkStatus();
}

absl::Status MoveJournal::load() {
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();
  std::stringstream text;
  text << in.rdbuf();
  std::lock_guard lock(mu_);
  auto status = parse(text.str(), next_id_, records_);
  if (!status.ok()) return absl::DataLossError(path_ + ": " + std::string(status.message()));
  return status;
}

absl::Status MoveJournal::save_locked() { return write_(path_, format(next_id_, records_)); }

absl::StatusOr<uint64_t> MoveJournal::next_id() {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  auto status = save_locked();
  if (!status.ok()) return status;
  return id;
}

absl::Status MoveJournal::put(MoveRecord& record) {
  record.updated = utc_now();
  std::lock_guard lock(mu_);
  records_[record.id] = record;
  return save_locked();
}

std::vector<MoveRecord> MoveJournal::records() const {
  std::lock_guard lock(mu_);
  std::vector<MoveRecord> out;
  for (const auto& [id, r] : records_) out.push_back(r);
  return out;
}

std::optional<MoveRecord> MoveJournal::find(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

}  // namespace shardgate::moves
