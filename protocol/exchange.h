// What a client's conversation with its server connection is waiting for: requests whose
// ReadyForQuery has not come back, extended-protocol messages not yet followed by a Sync, and
// the transaction status the server last reported. One small type so nobody re-derives
// "may this connection be handed back?" from separate flags (PgBouncer keeps the same in
// its server state, Envoy's postgres decoder in its State). No I/O: the session tells it what
// it sent and what came back.
#pragma once

#include <cassert>

#include "protocol/messages.h"

namespace shardgate::protocol {

class Exchange {
 public:
  // A frontend message went to the server. Query, FunctionCall and Sync each end in one
  // ReadyForQuery; Parse, Bind, Describe, Execute and Close wait for a Sync.
  void sent(char type) {
    switch (type) {
      case fe::kQuery:
      case fe::kFunctionCall:
        ++requests_;
        break;
      case fe::kSync:
        ++requests_;
        unsynced_ = false;
        break;
      case fe::kParse:
      case fe::kBind:
      case fe::kDescribe:
      case fe::kExecute:
      case fe::kClose:
        unsynced_ = true;
        break;
      default:
        break;
    }
  }
  // ReadyForQuery with this transaction status ('I', 'T' or 'E') came back.
  void ready(char status) {
    assert(requests_ > 0);
    if (requests_ > 0) --requests_;
    status_ = status;
  }
  // The conversation is over without its replies (connection lost, checkout failed, the
  // client was answered by shardgate): nothing is outstanding any more.
  void reset() {
    requests_ = 0;
    unsynced_ = false;
    status_ = 'I';
  }

  // Nothing outstanding and no transaction open: the connection may serve someone else.
  bool idle() const { return requests_ == 0 && !unsynced_ && status_ == 'I'; }
  // Replies outstanding (a cancel would reach something running).
  bool awaiting_reply() const { return requests_ > 0; }
  // Extended-protocol messages sent since the last Sync.
  bool unsynced() const { return unsynced_; }
  // Nothing outstanding, whatever the transaction status.
  bool quiet() const { return requests_ == 0 && !unsynced_; }
  bool in_transaction() const { return status_ != 'I'; }
  char status() const { return status_; }
  int requests() const { return requests_; }

 private:
  int requests_ = 0;
  bool unsynced_ = false;
  char status_ = 'I';
};

}  // namespace shardgate::protocol
