#include "fleet/floor_round.hpp"

#include <random>

namespace herald::fleet {

namespace asio = boost::asio;

namespace {
double default_unit() {
  static std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}
}  // namespace

asio::awaitable<EtcdResult<FloorOutcome>> run_floor(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                    const MinSites& min, FloorRetry retry) {
  FloorOutcome out;
  FloorInput input = in;
  auto read = co_await etcd.txn(floor_read_txn(keys, in.service));
  if (!read) co_return unexpected(read.error());
  auto state = floor_state_from(keys, in.service, read.value());
  std::optional<asio::steady_timer> wait;
  for (int attempt = 1; attempt <= retry.max_attempts; ++attempt) {
    if (!state) co_return unexpected(EtcdError{state.error()});
    auto& [index, ledger] = state.value();
    out.decision = decide_floor(index, ledger, input, min);
    out.revision = index.revision;
    auto txn = floor_write_txn(keys, index, ledger, input, out.decision);
    if (!txn) co_return out;  // Hold, or nothing to record
    out.attempts = attempt;
    auto w = co_await etcd.txn(std::move(*txn));
    if (!w && w.error().grpc_code == 5 && input.lease != 0) {
      // NotFound: the lease expired or was revoked, and the publisher is getting a new one.
      // Recording the decision without a lease beats not recording it (the site would decide
      // alone); the key then stays until the site announces again or is forgotten.
      input.lease = 0;
      auto again = floor_write_txn(keys, index, ledger, input, out.decision);
      w = co_await etcd.txn(std::move(*again));
    }
    if (!w) co_return unexpected(w.error());
    if (w->succeeded) {
      out.revision = w->revision;
      co_return out;
    }
    // Lost a race: the failure branch read the fresh index and ledger. Waiting a random while
    // before trying on it spreads the sites that failed together, so that they do not all
    // collide again at once; a site that committed meanwhile only makes this txn fail again,
    // with the state fresher still.
    state = floor_state_from(keys, in.service, w.value());
    const double u = retry.unit ? retry.unit() : default_unit();
    if (!wait) wait.emplace(co_await asio::this_coro::executor);
    wait->expires_after(floor_retry_delay(attempt, u, retry.base, retry.cap));
    co_await wait->async_wait(asio::use_awaitable);
  }
  out.decision.verdict = Verdict::Hold;
  out.decision.reason = "held by fleet floor: lost " + std::to_string(retry.max_attempts) +
                        " races for the ledger in a row; deciding again later";
  co_return out;
}

}  // namespace herald::fleet
