#include "fleet/floor_round.hpp"

#include <random>

namespace herald::fleet {

namespace asio = boost::asio;

namespace {
double default_unit() {
  static std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}
using FloorState = std::pair<ServiceIndex, Ledger>;

// The floor's state from the answer of a read (floor_read_txn, or a lost write's failure branch:
// the first page), completed with the index pages the decision needs, each a plain range at the
// read's revision R: every decision rests on R alone, and the write's compares are against R.
// A page fails with OutOfRange (gRPC 11, "required revision has been compacted") when etcd
// compacted R away meanwhile; the round then starts over once from a fresh read, as good as any
// (a second compaction at once fails the round, and the caller decides again later).
asio::awaitable<EtcdResult<FloorState>> complete_state(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                       const MinSites& min, unsigned page, TxnResult answer,
                                                       int& pages) {
  const std::string index_end = prefix_end(keys.index_prefix(in.service));
  for (int fresh = 0; fresh < 2; ++fresh) {
    auto st = floor_state_from(keys, in.service, in.site, answer);
    if (!st) co_return unexpected(EtcdError{st.error()});
    ServiceIndex& index = st->first;
    bool compacted = false;
    // Each page reads at least one key or ends the index: bounded by the sites publishing.
    for (std::size_t n = 0; n <= index.publishing && !compacted; ++n) {
      const unsigned limit = floor_more_needed(index, st->second, in, min);
      if (limit == 0) break;
      auto r = co_await etcd.range(index.next_key, index_end, index.revision, limit);
      if (!r && r.error().grpc_code == 11 && fresh == 0) {
        compacted = true;
      } else if (!r) {
        co_return unexpected(r.error());
      } else {
        add_index_page(keys, in.service, index, r.value());
        ++pages;
      }
    }
    if (!compacted) co_return std::move(st.value());
    auto again = co_await etcd.txn(floor_read_txn(keys, in.service, in.site, page));
    if (!again) co_return unexpected(again.error());
    answer = std::move(again.value());
  }
  co_return unexpected(EtcdError{"floor read: the read's revision was compacted twice"});
}

}  // namespace

asio::awaitable<EtcdResult<FloorOutcome>> run_floor(EtcdClient& etcd, const Keys& keys, const FloorInput& in,
                                                    const MinSites& min, FloorRetry retry) {
  FloorOutcome out;
  FloorInput input = in;
  const unsigned page = retry.page != 0 ? retry.page : floor_page(min);
  auto read = co_await etcd.txn(floor_read_txn(keys, in.service, in.site, page));
  if (!read) co_return unexpected(read.error());
  auto state = co_await complete_state(etcd, keys, input, min, page, std::move(read.value()), out.pages);
  std::optional<asio::steady_timer> wait;
  for (int attempt = 1; attempt <= retry.max_attempts; ++attempt) {
    if (!state) co_return unexpected(state.error());
    auto& [index, ledger] = state.value();
    out.decision = decide_floor(index, ledger, input, min);
    out.revision = index.revision;
    auto txn = floor_write_txn(keys, index, ledger, input, out.decision, page);
    if (!txn) co_return out;  // Hold, or nothing to record
    out.attempts = attempt;
    auto w = co_await etcd.txn(std::move(*txn));
    if (!w && w.error().grpc_code == 5 && input.lease != 0) {
      // NotFound: the lease expired or was revoked, and the publisher is getting a new one.
      // Recording the decision without a lease beats not recording it (the site would decide
      // alone); the key then stays until the site announces again or is forgotten.
      input.lease = 0;
      auto again = floor_write_txn(keys, index, ledger, input, out.decision, page);
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
    state = co_await complete_state(etcd, keys, input, min, page, std::move(w.value()), out.pages);
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
