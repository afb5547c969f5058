#include "daemon/connection_timer.hpp"

namespace herald::daemon {

ConnectionTimer::ConnectionTimer(boost::asio::io_context& io, ConnectionTable::Limits limits,
                                 Drop drop)
    : table_(limits), drop_(std::move(drop)), timer_(io) {}

std::optional<ConnectionTimer::Id> ConnectionTimer::admit(const std::string& client) {
  const Id id = next_id_++;
  auto admission = table_.admit(id, client, ConnectionTable::Clock::now());
  if (admission.evicted) drop_(*admission.evicted, DropReason::evicted);
  if (!admission.admitted) return std::nullopt;
  arm();
  return id;
}

void ConnectionTimer::set_state(Id id, ConnectionTable::State state) {
  if (stopped_) return;
  table_.set_state(id, state, ConnectionTable::Clock::now());
  arm();
}

void ConnectionTimer::stop() {
  stopped_ = true;
  timer_.cancel();
}

void ConnectionTimer::arm() {
  auto next = table_.next_deadline();
  if (stopped_ || !next || (armed_ && *armed_ <= *next)) return;
  armed_ = *next;
  timer_.expires_at(*next);
  timer_.async_wait([this, keep = owner_.lock()](boost::system::error_code ec) {
    if (ec || stopped_) return;  // aborted: a newer wait replaced this one, or stop()
    armed_.reset();
    for (Id id : table_.expired(ConnectionTable::Clock::now())) drop_(id, DropReason::timed_out);
    arm();
  });
}

}  // namespace herald::daemon
