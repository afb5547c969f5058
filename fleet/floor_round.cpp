#include "fleet/floor_round.hpp"

namespace herald::fleet {

boost::asio::awaitable<EtcdResult<FloorOutcome>> run_floor(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                           const MinSites& min, int max_attempts) {
  auto read = co_await etcd.txn(floor_read_txn(keys, in.service));
  if (!read) co_return unexpected(read.error());
  auto state = floor_state_from(keys, read.value());
  if (!state) co_return unexpected(EtcdError{state.error()});
  FloorOutcome out;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    auto& [view, ledger] = state.value();
    out.decision = decide_floor(view, ledger, in, min);
    out.revision = view.revision;
    auto txn = floor_write_txn(keys, view, ledger, in, out.decision);
    if (!txn) co_return out;  // Hold, or nothing to record
    out.attempts = attempt;
    auto w = co_await etcd.txn(std::move(*txn));
    if (!w) co_return unexpected(w.error());
    if (w->succeeded) {
      out.revision = w->revision;
      co_return out;
    }
    state = floor_state_from(keys, w.value());
    if (!state) co_return unexpected(EtcdError{state.error()});
  }
  out.decision.verdict = Verdict::Hold;
  out.decision.reason = "held by fleet floor: lost " + std::to_string(max_attempts) +
                        " races for the ledger in a row; deciding again later";
  co_return out;
}

}  // namespace herald::fleet
