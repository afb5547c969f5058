// The passive side of BGP transport: a TCP listener on one address and port (179 by default).
// It only accepts; deciding whether the remote is a configured peer is the owner's job (the
// speaker), which gets every accepted socket with the remote's address.
//
// MD5 keys (RFC 2385) live on the listening socket, one per peer address, so that the kernel
// answers only signed SYNs from those peers; accepted sockets inherit them.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "base/expected.hpp"
#include "base/asio.hpp"
#include "bgp/transport_endpoint.hpp"
#include "bgp/transport_socket_options.hpp"

namespace herald::bgp::transport {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using AcceptHandler = std::function<void(boost::asio::ip::tcp::socket, const Endpoint& remote)>;

  // Binds and listens on `where` ("::" listens dual-stack, IPv4 peers appear as IPv4).
  // Failures (address in use, not permitted...) come back as a value.
  static Expected<std::shared_ptr<Listener>, TransportError> open(boost::asio::io_context& io,
                                                                  const Endpoint& where,
                                                                  AcceptHandler on_accept,
                                                                  FaultInjector fault = {});

  // Starts accepting; on_accept runs for every accepted socket until close().
  void start();
  // Installs (key non-empty) or removes (empty) the MD5 key for one peer address.
  MaybeError set_md5(const IpAddress& peer, std::string_view key);
  // Makes SYN-ACKs leave with TTL 255 so GTSM peers accept them (RFC 5082 3).
  MaybeError set_ttl_255();
  // Stops accepting and closes the socket. No handler runs afterwards.
  void close();

  Endpoint local_endpoint() const { return local_; }
  bool v6_socket() const { return v6_; }

  Listener(boost::asio::io_context& io, AcceptHandler on_accept, FaultInjector fault);

 private:
  void accept_next();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  AcceptHandler on_accept_;
  FaultInjector fault_;
  Endpoint local_;
  bool v6_ = false;
  bool closed_ = false;
};

}  // namespace herald::bgp::transport
