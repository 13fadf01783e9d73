// Fuzzes the transaction-mode prepared-statement rewriting: arbitrary client messages through
// RequestRewriter, arbitrary server messages through route_response, with invariants checked.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>

#include "protocol/frame.h"
#include "proxy/session/prepared_statements.h"

using namespace shardgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  proxy::StatementRegistry registry;
  proxy::ClientStatements client;
  pool::PreparedLru server(4);
  proxy::RequestRewriter rewriter(registry, client, server);
  std::deque<proxy::Expectation> expect;
  protocol::ByteSpan in(data, size);
  size_t pos = 0;
  bool to_server = true;
  while (pos < in.size()) {
    // The first byte of each chunk says which direction the following message goes.
    to_server = (in[pos] & 1) != 0;
    ++pos;
    auto frame = protocol::parse_message(in.subspan(pos), 1 << 16);
    if (frame.status != protocol::FrameStatus::kFrame) break;
    auto raw = in.subspan(pos, frame.size);
    if (to_server) {
      protocol::Bytes out;
      std::string error;
      bool ok = rewriter.add(frame.type, frame.body, raw, out, expect, &error);
      if (ok) {
        // Whatever goes to the server must frame cleanly, message after message.
        size_t p = 0;
        while (p < out.size()) {
          auto f = protocol::parse_message(protocol::ByteSpan(out).subspan(p), 1 << 20);
          if (f.status != protocol::FrameStatus::kFrame) std::abort();
          p += f.size;
        }
      } else if (error.empty()) {
        std::abort();  // a refusal always says why
      }
    } else {
      proxy::route_response(frame.type, true, expect, server);
    }
    if (server.size() > 4) std::abort();  // the LRU bound holds
    pos += frame.size;
  }
  return 0;
}
