#include "fleet/etcd_client.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace herald::fleet {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using SslStream = beast::ssl_stream<beast::tcp_stream>;

constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcUnauthenticated = 16;

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

std::pair<std::string, std::string> split_endpoint(const std::string& ep) {
  // "[v6]:port" or "host:port"
  if (!ep.empty() && ep.front() == '[') {
    auto close = ep.find(']');
    if (close != std::string::npos && close + 1 < ep.size() && ep[close + 1] == ':')
      return {ep.substr(1, close - 1), ep.substr(close + 2)};
  }
  auto colon = ep.rfind(':');
  if (colon == std::string::npos) return {ep, "2379"};
  return {ep.substr(0, colon), ep.substr(colon + 1)};
}

http::request<http::string_body> make_request(const std::string& host, const std::string& path,
                                              const std::string& body, const std::string& token) {
  http::request<http::string_body> req{http::verb::post, path, 11};
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/json");
  if (!token.empty()) req.set(http::field::authorization, token);
  req.body() = body;
  req.prepare_payload();
  return req;
}

EtcdError io_error(const std::string& ep, const char* step, const beast::error_code& ec) {
  return EtcdError{"etcd member " + ep + ": " + step + ": " + ec.message(), 0};
}

}  // namespace

std::vector<std::string> split_endpoints(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

struct EtcdClient::Impl {
  asio::any_io_executor ex;
  EtcdClientOptions opts;
  std::unique_ptr<asio::ssl::context> ssl;
  std::size_t current = 0;
  std::string token;

  // Connects one stream (plain or TLS) to `ep`, with the timeout armed.
  template <typename Stream>
  asio::awaitable<EtcdResult<Done>> connect(Stream& s, const std::string& ep) {
    auto [host, port] = split_endpoint(ep);
    beast::error_code ec;
    tcp::resolver resolver(ex);
    auto results = co_await resolver.async_resolve(host, port, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return unexpected(io_error(ep, "resolve", ec));
    auto& lowest = beast::get_lowest_layer(s);
    lowest.expires_after(opts.timeout);
    co_await lowest.async_connect(results, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return unexpected(io_error(ep, "connect", ec));
    if constexpr (std::is_same_v<Stream, SslStream>) {
      // Check the member's certificate names this endpoint: an IP address in subjectAltName
      // for an IP literal, a DNS name otherwise.
      X509_VERIFY_PARAM* param = SSL_get0_param(s.native_handle());
      boost::system::error_code aec;
      asio::ip::make_address(host, aec);
      if (!aec) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        // SNI (SSL_set_tlsext_host_name, spelled out: the macro casts old-style).
        SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
      }
      co_await s.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(use_awaitable, ec));
      if (ec) co_return unexpected(io_error(ep, "TLS handshake", ec));
    }
    co_return Done{};
  }

  // Idle keep-alive connections per member, most recently used last. A call takes one out (so a
  // connection serves one call at a time; calls that overlap open more) and puts it back after a
  // whole reply that allows keep-alive; at most opts.idle_per_member stay, extras are closed.
  std::map<std::string, std::vector<std::unique_ptr<beast::tcp_stream>>> idle_tcp;
  std::map<std::string, std::vector<std::unique_ptr<SslStream>>> idle_tls;

  template <typename Stream>
  std::vector<std::unique_ptr<Stream>>& idle(const std::string& ep) {
    if constexpr (std::is_same_v<Stream, SslStream>) return idle_tls[ep]; else return idle_tcp[ep];
  }
  template <typename Stream>
  std::unique_ptr<Stream> new_stream() {
    if constexpr (std::is_same_v<Stream, SslStream>) return std::make_unique<SslStream>(ex, *ssl);
    else return std::make_unique<beast::tcp_stream>(ex);
  }
  template <typename Stream>
  static void close_stream(Stream& s) {
    beast::error_code ec;
    auto& sock = beast::get_lowest_layer(s).socket();
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }
  template <typename Stream>
  void park(const std::string& ep, std::unique_ptr<Stream> s) {
    auto& pool = idle<Stream>(ep);
    if (pool.size() >= opts.idle_per_member) {
      close_stream(*s);
      return;
    }
    beast::get_lowest_layer(*s).expires_never();
    pool.push_back(std::move(s));
  }
  // A member that failed at the transport level: its other idle connections are suspect too.
  template <typename Stream>
  void drop_idle(const std::string& ep) {
    auto& pool = idle<Stream>(ep);
    for (auto& s : pool) close_stream(*s);
    pool.clear();
  }

  struct Exchanged {
    EtcdResult<HttpReply> reply;
    bool keep_alive = false;
    bool unanswered = false;  // failed before any byte of a reply arrived (and not by the timeout)
  };

  // One request and its whole reply on a connected stream whose timeout is armed.
  template <typename Stream>
  asio::awaitable<Exchanged> exchange_on(Stream& s, const std::string& ep, const std::string& path,
                                         const std::string& body) {
    beast::error_code ec;
    auto req = make_request(split_endpoint(ep).first, path, body, token);
    co_await http::async_write(s, req, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return Exchanged{unexpected(io_error(ep, "write", ec)), false, ec != beast::error::timeout};
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    co_await http::async_read(s, buf, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      const bool nothing = !parser.got_some() && buf.size() == 0 && ec != beast::error::timeout;
      co_return Exchanged{unexpected(io_error(ep, "read", ec)), false, nothing};
    }
    auto res = parser.release();
    // Bytes past the reply (etcd sends none) leave the connection out of step: not reused.
    const bool keep = res.keep_alive() && buf.size() == 0;
    co_return Exchanged{HttpReply{res.result_int(), std::move(res.body())}, keep, false};
  }

  // One exchange with `ep` on an idle connection to it, or a new one. opts.timeout bounds the
  // connect, handshake, request and reply of a new connection, and the request and reply on a
  // reused one.
  template <typename Stream>
  asio::awaitable<EtcdResult<HttpReply>> exchange_pooled(const std::string& ep, const std::string& path,
                                                         const std::string& body) {
    std::unique_ptr<Stream> s;
    if (auto& pool = idle<Stream>(ep); !pool.empty()) {
      s = std::move(pool.back());
      pool.pop_back();
    }
    bool reused = s != nullptr;
    while (true) {
      if (reused) {
        beast::get_lowest_layer(*s).expires_after(opts.timeout);
      } else {
        s = new_stream<Stream>();
        if (auto c = co_await connect(*s, ep); !c) {
          drop_idle<Stream>(ep);
          co_return unexpected(c.error());
        }
      }
      auto x = co_await exchange_on(*s, ep, path, body);
      if (x.reply) {
        if (x.keep_alive) park(ep, std::move(s)); else close_stream(*s);
        co_return std::move(x.reply);
      }
      close_stream(*s);
      if (reused && x.unanswered) {
        // The member (or a NAT, or etcd's idle timeout) closed this connection while it was idle:
        // the write went nowhere or the read met its end before any byte of a reply. Send the
        // same request once more, on a new connection to the same member, before calling the
        // member failed. Should the member have acted on it all the same, doing so twice is
        // harmless: every write herald makes is a put or delete of its own keys, a lease
        // keep-alive or grant (an extra lease expires unused), or a txn whose compares decide
        // again against what the first one did (docs/fleet.md, "When etcd cannot be reached").
        // A reply that had begun to arrive is not retried here: it fails the member as before.
        drop_idle<Stream>(ep);  // as old as this one or older: as likely closed
        reused = false;
        continue;
      }
      drop_idle<Stream>(ep);
      co_return unexpected(x.reply.error());
    }
  }

  asio::awaitable<EtcdResult<HttpReply>> exchange(const std::string& ep, const std::string& path, const std::string& body) {
    if (ssl) co_return co_await exchange_pooled<SslStream>(ep, path, body);
    co_return co_await exchange_pooled<beast::tcp_stream>(ep, path, body);
  }

  // One request to one member, authenticating first when a user is configured and no token is
  // held, and once more when etcd says the token is no longer valid.
  asio::awaitable<EtcdResult<std::string>> request(const std::string& ep, const std::string& path,
                                                   const std::string& body) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!opts.user.empty() && token.empty()) {
        auto a = co_await exchange(ep, "/v3/auth/authenticate", authenticate_body(opts.user, opts.password));
        if (!a) co_return unexpected(a.error());
        if (a->status != 200) co_return unexpected(error_from_body(a->status, a->body));
        auto t = parse_token(a->body);
        if (!t) co_return unexpected(t.error());
        token = std::move(t.value());
      }
      auto r = co_await exchange(ep, path, body);
      if (!r) co_return unexpected(r.error());
      if (r->status == 200) co_return std::move(r->body);
      EtcdError e = error_from_body(r->status, r->body);
      if (e.grpc_code == kGrpcUnauthenticated && !opts.user.empty() && attempt == 0) {
        token.clear();
        continue;
      }
      co_return unexpected(e);
    }
    co_return unexpected(EtcdError{"etcd refused the authentication token twice", kGrpcUnauthenticated});
  }

  template <typename Stream>
  asio::awaitable<EtcdResult<Done>> watch_on(Stream& s, const std::string& ep, std::string body,
                                             const WatchHandler& on_batch, std::chrono::milliseconds idle) {
    if (auto c = co_await connect(s, ep); !c) co_return unexpected(c.error());
    beast::error_code ec;
    auto req = make_request(split_endpoint(ep).first, "/v3/watch", body, token);
    co_await http::async_write(s, req, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return unexpected(io_error(ep, "write", ec));
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    co_await http::async_read_header(s, buf, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return unexpected(io_error(ep, "read", ec));
    if (parser.get().result_int() != 200) {
      co_await http::async_read(s, buf, parser, asio::redirect_error(use_awaitable, ec));
      co_return unexpected(error_from_body(parser.get().result_int(), parser.get().body()));
    }
    // The gateway sends one JSON message per line, in chunks that need not align with lines.
    std::string pending;
    auto on_chunk = [&pending](std::uint64_t, beast::string_view data, beast::error_code&) {
      pending.append(data.data(), data.size());
      return data.size();
    };
    parser.on_chunk_body(on_chunk);
    while (true) {
      auto& lowest = beast::get_lowest_layer(s);
      if (idle.count() > 0) lowest.expires_after(idle); else lowest.expires_never();
      co_await http::async_read_some(s, buf, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == beast::error::timeout) co_return unexpected(EtcdError{"etcd member " + ep + ": watch idle for " + std::to_string(idle.count()) + " ms"});
      if (ec) co_return unexpected(io_error(ep, "watch", ec));
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        auto b = parse_watch_message(line);
        if (!b) co_return unexpected(b.error());
        if (!on_batch(b.value())) co_return Done{};
        if (b->canceled) co_return unexpected(EtcdError{"watch canceled: " + b->cancel_reason});
      }
      if (parser.is_done()) co_return unexpected(EtcdError{"etcd member " + ep + ": watch stream ended"});
    }
  }
};

EtcdResult<std::unique_ptr<EtcdClient>> EtcdClient::create(asio::any_io_executor ex, EtcdClientOptions opts) {
  if (opts.endpoints.empty()) return unexpected(EtcdError{"no etcd endpoints configured"});
  auto impl = std::make_unique<Impl>();
  impl->ex = ex;
  if (opts.tls) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!opts.ca_file.empty()) {
      ctx->load_verify_file(opts.ca_file, ec);
      if (ec) return unexpected(EtcdError{"TLS CA file " + opts.ca_file + ": " + ec.message()});
    } else {
      ctx->set_default_verify_paths(ec);
    }
    if (!opts.cert_file.empty()) {
      ctx->use_certificate_chain_file(opts.cert_file, ec);
      if (ec) return unexpected(EtcdError{"TLS certificate file " + opts.cert_file + ": " + ec.message()});
      ctx->use_private_key_file(opts.key_file, asio::ssl::context::pem, ec);
      if (ec) return unexpected(EtcdError{"TLS key file " + opts.key_file + ": " + ec.message()});
    }
    impl->ssl = std::move(ctx);
  }
  impl->opts = std::move(opts);
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(impl)));
}

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;
const std::string& EtcdClient::endpoint() const { return impl_->opts.endpoints[impl_->current]; }

EtcdClient::Task<std::string> EtcdClient::call(std::string path, std::string body) {
  auto& im = *impl_;
  const std::size_t n = im.opts.endpoints.size();
  const auto give_up = std::chrono::steady_clock::now() + im.opts.election_wait;
  std::optional<asio::steady_timer> pause;
  for (int pass = 0;; ++pass) {
    EtcdError last;
    std::string each;  // every member's failure, in the order tried: the operator needs them all
    bool electing = false;  // a member answered UNAVAILABLE: the cluster is up but has no leader now
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t idx = (im.current + i) % n;
      auto r = co_await im.request(im.opts.endpoints[idx], path, body);
      if (r) {
        im.current = idx;
        co_return r;
      }
      last = r.error();
      // Refusals (a failed compare is not one; bad requests, permissions, auth) are etcd's answer:
      // another member would say the same. The member answered: endpoint() names it.
      if (last.grpc_code != 0 && last.grpc_code != kGrpcUnavailable) {
        im.current = idx;
        co_return unexpected(last);
      }
      if (last.grpc_code == kGrpcUnavailable) electing = true;
      const std::string& reason = last.reason;
      each += (each.empty() ? "" : "; ") +
              (reason.rfind("etcd member ", 0) == 0 ? reason : "etcd member " + im.opts.endpoints[idx] + ": " + reason);
    }
    // Members that answer "no leader" / "leader changed" are electing one (about an election
    // timeout, 1 s by etcd's default): wait for it rather than report the fleet unreachable, which
    // would make the site decide alone. Members that do not answer at all are another matter:
    // that is a partition, and the caller must learn it now.
    const auto delay = std::chrono::milliseconds(std::min(50 << std::min(pass, 3), 400));
    if (!electing || std::chrono::steady_clock::now() + delay > give_up)
      co_return unexpected(EtcdError{"no etcd member answered: " + each, last.grpc_code});
    if (!pause) pause.emplace(im.ex);
    pause->expires_after(delay);
    co_await pause->async_wait(asio::use_awaitable);
  }
}

EtcdClient::Task<RangeResult> EtcdClient::get(std::string key) { return range(std::move(key), {}); }
EtcdClient::Task<RangeResult> EtcdClient::get_prefix(std::string prefix) {
  auto end = prefix_end(prefix);
  return range(std::move(prefix), std::move(end));
}
EtcdClient::Task<RangeResult> EtcdClient::range(std::string key, std::string range_end, std::int64_t revision,
                                                std::int64_t limit) {
  auto r = co_await call("/v3/kv/range", range_body(key, range_end, revision, limit));
  if (!r) co_return unexpected(r.error());
  co_return parse_range(r.value());
}
EtcdClient::Task<std::int64_t> EtcdClient::put(std::string key, std::string value, std::int64_t lease) {
  auto r = co_await call("/v3/kv/put", put_body(key, value, lease));
  if (!r) co_return unexpected(r.error());
  co_return parse_header_revision(r.value());
}
EtcdClient::Task<std::int64_t> EtcdClient::del(std::string key, std::string range_end) {
  auto r = co_await call("/v3/kv/deleterange", delete_body(key, range_end));
  if (!r) co_return unexpected(r.error());
  co_return parse_header_revision(r.value());
}
EtcdClient::Task<TxnResult> EtcdClient::txn(Txn t) {
  auto r = co_await call("/v3/kv/txn", txn_body(t));
  if (!r) co_return unexpected(r.error());
  co_return parse_txn(r.value());
}
EtcdClient::Task<LeaseGrant> EtcdClient::lease_grant(std::int64_t ttl) {
  auto r = co_await call("/v3/lease/grant", lease_grant_body(ttl));
  if (!r) co_return unexpected(r.error());
  co_return parse_lease_grant(r.value());
}
EtcdClient::Task<LeaseGrant> EtcdClient::lease_keepalive(std::int64_t id) {
  auto r = co_await call("/v3/lease/keepalive", lease_id_body(id));
  if (!r) co_return unexpected(r.error());
  co_return parse_lease_keepalive(r.value());
}
EtcdClient::Task<Done> EtcdClient::lease_revoke(std::int64_t id) {
  auto r = co_await call("/v3/lease/revoke", lease_id_body(id));
  if (!r) co_return unexpected(r.error());
  co_return Done{};
}

EtcdClient::Task<Done> EtcdClient::watch(std::string key, std::string range_end, std::int64_t start_revision,
                                         WatchHandler on_batch, std::chrono::milliseconds idle) {
  auto& im = *impl_;
  // Authenticate (and find a live member) with a cheap read first, then open the stream there.
  if (auto probe = co_await call("/v3/kv/range", range_body(key, {}, 0)); !probe) co_return unexpected(probe.error());
  const std::string ep = im.opts.endpoints[im.current];
  std::string body = watch_body(key, range_end, start_revision);
  if (im.ssl) {
    SslStream s(im.ex, *im.ssl);
    co_return co_await im.watch_on(s, ep, std::move(body), on_batch, idle);
  }
  beast::tcp_stream s(im.ex);
  co_return co_await im.watch_on(s, ep, std::move(body), on_batch, idle);
}

}  // namespace herald::fleet
