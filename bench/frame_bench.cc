// Google benchmarks of the framing functions on the relay's hot path: every byte a server
// sends back passes through StreamScanner::scan (or parse_header / parse_message) once.
// The input is a buffer of many small DataRow messages, the shape of a typical result set,
// framed with a RowDescription in front and CommandComplete + ReadyForQuery at the end.
//
//   ninja -C build-bench sg_bench && build-bench/bench/sg_bench --benchmark_filter=Frame
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/bytes.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "proxy/session/stream_scanner.h"

namespace {

using shardgate::protocol::Bytes;
using shardgate::protocol::ByteSpan;
using shardgate::protocol::FrameStatus;

// A result set of `rows` DataRows of three small columns (int, int, short text), like
// `SELECT aid, abalance, filler` on pgbench_accounts with a trimmed filler.
Bytes make_result_set(int rows) {
  namespace p = shardgate::protocol;
  Bytes out;
  std::vector<p::ColumnDesc> cols(3);
  cols[0].name = "aid";
  cols[1].name = "abalance";
  cols[2].name = "filler";
  p::encode_row_description(out, cols);
  for (int i = 0; i < rows; ++i) {
    std::vector<std::optional<std::string>> values{std::to_string(100000 + i),
                                                   std::to_string(i % 5000 - 2500),
                                                   std::string("row-") + std::to_string(i)};
    p::encode_data_row(out, values);
  }
  p::encode_command_complete(out, "SELECT " + std::to_string(rows));
  p::encode_ready_for_query(out, 'I');
  return out;
}

constexpr int kRows = 1000;

const Bytes& result_set() {
  static const Bytes bytes = make_result_set(kRows);
  return bytes;
}

void report(benchmark::State& state, size_t bytes, size_t messages) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(messages));
  state.counters["messages"] = double(messages);
}

// parse_header over the whole buffer: the 5-byte header walk a streaming relay does.
void BM_FrameParseHeader(benchmark::State& state) {
  const Bytes& buf = result_set();
  size_t messages = 0;
  for (auto _ : state) {
    ByteSpan in(buf);
    size_t count = 0;
    while (!in.empty()) {
      auto h = shardgate::protocol::parse_header(in);
      if (h.status != FrameStatus::kFrame || h.total > in.size()) break;
      in = in.subspan(h.total);
      ++count;
    }
    benchmark::DoNotOptimize(count);
    messages = count;
  }
  if (messages != size_t(kRows) + 3) state.SkipWithError("did not walk every message");
  report(state, buf.size(), messages);
}
BENCHMARK(BM_FrameParseHeader);

// parse_message over the whole buffer: header plus body span, each message whole.
void BM_FrameParseMessage(benchmark::State& state) {
  const Bytes& buf = result_set();
  size_t messages = 0;
  for (auto _ : state) {
    ByteSpan in(buf);
    size_t count = 0;
    size_t body_bytes = 0;
    while (!in.empty()) {
      auto f = shardgate::protocol::parse_message(in);
      if (f.status != FrameStatus::kFrame) break;
      body_bytes += f.body.size();
      in = in.subspan(f.size);
      ++count;
    }
    benchmark::DoNotOptimize(body_bytes);
    messages = count;
  }
  if (messages != size_t(kRows) + 3) state.SkipWithError("did not walk every message");
  report(state, buf.size(), messages);
}
BENCHMARK(BM_FrameParseMessage);

// StreamScanner::scan over the whole buffer in one call, the callback watching for
// ReadyForQuery the way the relay does to find the end of a transaction.
void BM_FrameStreamScannerWhole(benchmark::State& state) {
  const Bytes& buf = result_set();
  size_t messages = 0;
  for (auto _ : state) {
    shardgate::proxy::StreamScanner scanner;
    size_t count = 0;
    char last_status = 0;
    auto r = scanner.scan(ByteSpan(buf), [&](const shardgate::proxy::ScannedFrame& f) {
      ++count;
      if (f.type == 'Z' && f.whole() && !f.body().empty())
        last_status = static_cast<char>(f.body()[0]);
      return shardgate::proxy::ScanAction::kContinue;
    });
    benchmark::DoNotOptimize(r.forward);
    benchmark::DoNotOptimize(last_status);
    messages = count;
    if (r.forward != buf.size()) {
      state.SkipWithError("scanner did not forward the whole buffer");
      break;
    }
  }
  report(state, buf.size(), messages);
}
BENCHMARK(BM_FrameStreamScannerWhole);

// The same bytes arriving in socket-sized chunks (argument = chunk size), so messages are
// split across reads: the scanner leaves the partial tail, the next read is appended to it.
void BM_FrameStreamScannerChunked(benchmark::State& state) {
  const Bytes& buf = result_set();
  const size_t chunk = size_t(state.range(0));
  size_t messages = 0;
  Bytes pending;
  pending.reserve(chunk * 2 + 64);
  for (auto _ : state) {
    shardgate::proxy::StreamScanner scanner;
    size_t count = 0;
    size_t forwarded = 0;
    pending.clear();
    for (size_t off = 0; off < buf.size(); off += chunk) {
      size_t n = std::min(chunk, buf.size() - off);
      pending.insert(pending.end(), buf.begin() + ptrdiff_t(off), buf.begin() + ptrdiff_t(off + n));
      auto r = scanner.scan(ByteSpan(pending), [&](const shardgate::proxy::ScannedFrame&) {
        ++count;
        return shardgate::proxy::ScanAction::kContinue;
      });
      forwarded += r.forward;
      pending.erase(pending.begin(), pending.begin() + ptrdiff_t(r.forward));
    }
    benchmark::DoNotOptimize(forwarded);
    messages = count;
    if (forwarded != buf.size()) {
      state.SkipWithError("scanner did not forward the whole buffer");
      break;
    }
  }
  report(state, buf.size(), messages);
}
BENCHMARK(BM_FrameStreamScannerChunked)->Arg(1460)->Arg(16 * 1024);

// One select-only pgbench transaction's reply (RowDescription, one DataRow, CommandComplete,
// ReadyForQuery): the per-transaction cost of scanning, the case the end-to-end bench drives.
void BM_FrameStreamScannerOneRow(benchmark::State& state) {
  static const Bytes buf = make_result_set(1);
  for (auto _ : state) {
    shardgate::proxy::StreamScanner scanner;
    bool ready = false;
    auto r = scanner.scan(ByteSpan(buf), [&](const shardgate::proxy::ScannedFrame& f) {
      if (f.type == 'Z') {
        ready = true;
        return shardgate::proxy::ScanAction::kStopAfter;
      }
      return shardgate::proxy::ScanAction::kContinue;
    });
    benchmark::DoNotOptimize(r.forward);
    benchmark::DoNotOptimize(ready);
  }
  report(state, buf.size(), 4);
}
BENCHMARK(BM_FrameStreamScannerOneRow);

}  // namespace
