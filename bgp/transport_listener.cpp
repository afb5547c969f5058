#include "bgp/transport_listener.hpp"


#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace herald::bgp::transport {

namespace asio = boost::asio;
namespace ip = asio::ip;
using boost::system::error_code;

namespace {
// After a failed accept (e.g. out of file descriptors) wait before trying again, so a
// persistent error does not spin the event loop.
constexpr std::chrono::milliseconds kAcceptRetryDelay{200};
}  // namespace

Listener::Listener(asio::io_context& io, AcceptHandler on_accept, FaultInjector fault)
    : acceptor_(io), retry_timer_(io), on_accept_(std::move(on_accept)), fault_(std::move(fault)) {}

Expected<std::shared_ptr<Listener>, TransportError> Listener::open(asio::io_context& io, const Endpoint& where,
                                                                   AcceptHandler on_accept,
                                                                   FaultInjector fault) {
  auto l = std::make_shared<Listener>(io, std::move(on_accept), std::move(fault));
  const auto ep = to_asio(where);
  l->v6_ = ep.protocol() == ip::tcp::v6();
  auto failed = [&](std::string_view step, int err) {
    return unexpected(TransportError{fmt::format("{} {}: {}", step, where.to_string(), std::strerror(err))});
  };
  error_code ec;
  l->acceptor_.open(ep.protocol(), ec);
  if (ec) return failed("socket for listener", ec.value());
  // Restarting herald must not wait for TIME_WAIT sockets of its previous run.
  l->acceptor_.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  if (ec) return failed("SO_REUSEADDR on listener", ec.value());
  if (l->v6_ && ep.address().is_unspecified()) {
    l->acceptor_.set_option(ip::v6_only(false), ec);  // "::" also takes IPv4 peers
    if (ec) return failed("IPV6_V6ONLY on listener", ec.value());
  }
  int err = l->fault_ ? l->fault_("bind") : 0;
  if (err == 0) {
    l->acceptor_.bind(ep, ec);
    if (ec) err = ec.value();
  }
  if (err != 0) return failed("bind listener", err);
  err = l->fault_ ? l->fault_("listen") : 0;
  if (err == 0) {
    l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) err = ec.value();
  }
  if (err != 0) return failed("listen", err);
  l->local_ = from_asio(l->acceptor_.local_endpoint(ec));
  return l;
}

void Listener::start() { accept_next(); }

void Listener::accept_next() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this()](const error_code& ec, ip::tcp::socket socket) {
    if (self->closed_ || ec == asio::error::operation_aborted) return;
    int err = ec ? ec.value() : (self->fault_ ? self->fault_("accept") : 0);
    if (err != 0) {
      self->retry_timer_.expires_after(kAcceptRetryDelay);
      self->retry_timer_.async_wait([self](const error_code& e) {
        if (!e) self->accept_next();
      });
      return;
    }
    error_code rec;
    auto remote = socket.remote_endpoint(rec);
    if (!rec && self->on_accept_) self->on_accept_(std::move(socket), from_asio(remote));
    self->accept_next();
  });
}

MaybeError Listener::set_md5(const IpAddress& peer, std::string_view key) {
  return set_md5_key(acceptor_.native_handle(), v6_, peer, key, fault_);
}

MaybeError Listener::set_ttl_255() {
  // A dual-stack listener also answers IPv4 SYNs, whose TTL comes from IP_TTL: set both.
  return transport::set_ttl_255(acceptor_.native_handle(), SocketShape{v6_, true}, local_.address, fault_);
}

void Listener::close() {
  closed_ = true;
  on_accept_ = nullptr;
  retry_timer_.cancel();
  error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace herald::bgp::transport
