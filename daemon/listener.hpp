// What the control socket (control_server.hpp) and the /metrics endpoint (metrics_http.hpp)
// share: a stream acceptor whose connections are kept in a ConnectionTable (through a
// ConnectionTimer). It admits each accepted socket, or refuses it when every slot is being
// answered; closes the connections the table gives up (evicted for a newcomer, timed out);
// counts every drop by reason and reports it to `on_drop`; after a transient accept error
// (EMFILE, ENFILE) tries again 100 ms later instead of spinning or giving up; and on stop()
// closes the acceptor and every connection. Its server keeps what differs: how the socket is
// opened and bound, who a client is, and what a connection says.
//
// `Conn` is the server's connection type. The listener holds each one until it closes: it needs
// `void start()` (called once, after the listener holds it) and `void close()`, which must call
// close_connection(id, socket) or forget(id) (closing twice is the connection's to make
// harmless). `Who` is what a drop reports about its client (an address, a process's credentials).
// Single-threaded, on the io_context's thread. The listener is a member of its server, which
// owns it through a shared_ptr (start(owner)): pending accepts and timers keep the server alive.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/asio.hpp"
#include "daemon/connection_table.hpp"
#include "daemon/connection_timer.hpp"

namespace herald::daemon {

template <typename Protocol, typename Conn, typename Who>
class Listener {
 public:
  using Id = ConnectionTable::Id;
  using Socket = typename Protocol::socket;
  using Acceptor = typename Protocol::acceptor;
  struct Hooks {
    // The client an accepted socket comes from: the key the table tells clients apart by (a
    // flooding client evicts its own connections first), and what a drop reports about it.
    std::function<std::pair<std::string, Who>(Socket&)> identify;
    // The connection for an admitted socket.
    std::function<std::shared_ptr<Conn>(Id, Socket, const Who&)> open;
    // Told about each dropped connection, with a sentence saying why (ConnectionTable::explain).
    std::function<void(DropReason, const std::string& why, const Who&)> on_drop;
  };

  Listener(boost::asio::io_context& io, ConnectionTable::Limits limits, Hooks hooks)
      : hooks_(std::move(hooks)),
        acceptor_(io),
        retry_(io),
        timer_(io, limits, [this](Id id, DropReason why) { drop(id, why); }) {}
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // For the server to open, bind and listen before start().
  Acceptor& acceptor() { return acceptor_; }
  const Acceptor& acceptor() const { return acceptor_; }

  // Starts accepting. Every pending wait holds `owner` (the server) alive.
  void start(std::weak_ptr<void> owner) {
    owner_ = owner;
    timer_.set_owner(std::move(owner));
    accept();
  }

  // Connection `id` enters `state` now (its deadline restarts).
  void set_state(Id id, ConnectionTable::State state) { timer_.set_state(id, state); }
  // Connection `id` closed (by either side): the listener lets it go.
  void forget(Id id) {
    connections_.erase(id);
    timer_.remove(id);
  }
  // A connection's close(): shuts and closes its socket (pending I/O aborts) and forgets it.
  // The caller keeps a reference to itself across this call: the listener's goes away here.
  void close_connection(Id id, Socket& socket) {
    boost::system::error_code ignored;
    socket.shutdown(Socket::shutdown_both, ignored);
    socket.close(ignored);
    forget(id);
  }

  // The open connections, as a copy: closing one does not disturb the caller's loop.
  std::vector<std::shared_ptr<Conn>> connections() const {
    std::vector<std::shared_ptr<Conn>> all;
    all.reserve(connections_.size());
    for (const auto& [id, e] : connections_) all.push_back(e.conn);
    return all;
  }
  std::size_t size() const { return connections_.size(); }
  // Connections dropped since start, by reason (DropCounts is indexed by DropReason).
  const DropCounts& dropped() const { return dropped_; }
  bool stopped() const { return stopped_; }

  // Stops accepting and closes every connection; later calls do nothing.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
    timer_.stop();
    for (auto& c : connections()) c->close();
  }

 private:
  struct Entry {
    std::shared_ptr<Conn> conn;
    Who who;
  };

  void accept() {
    auto owner = owner_.lock();
    if (!owner || stopped_) return;
    acceptor_.async_accept([this, owner](boost::system::error_code ec, Socket socket) {
      if (stopped_ || ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this, owner](boost::system::error_code wait_ec) {
          if (!wait_ec && !stopped_) accept();
        });
        return;
      }
      auto [client, who] = hooks_.identify(socket);
      if (auto id = timer_.admit(client)) {
        auto conn = hooks_.open(*id, std::move(socket), who);
        connections_.emplace(*id, Entry{conn, std::move(who)});
        conn->start();
      } else {
        boost::system::error_code ignored;
        socket.close(ignored);
        report(DropReason::refused, who);
      }
      accept();
    });
  }

  // Closes connection `id`, out of the table already, and reports why.
  void drop(Id id, DropReason reason) {
    timer_.remove(id);
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Entry e = it->second;
    report(reason, e.who);
    e.conn->close();
  }

  void report(DropReason reason, const Who& who) {
    ++dropped_[static_cast<std::size_t>(reason)];
    if (hooks_.on_drop) hooks_.on_drop(reason, timer_.explain(reason), who);
  }

  Hooks hooks_;
  Acceptor acceptor_;
  boost::asio::steady_timer retry_;
  std::map<Id, Entry> connections_;
  ConnectionTimer timer_;  // admission and deadlines of connections_
  std::weak_ptr<void> owner_;
  DropCounts dropped_{};
  bool stopped_ = false;
};

}  // namespace herald::daemon
