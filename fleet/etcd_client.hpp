// An etcd v3 client over the JSON gateway (HTTP/1.1 with Boost.Beast, optionally TLS with a client
// certificate), with etcd user/password authentication and fail-over across the cluster's members.
//
// Contract: every call is a coroutine on the client's executor that returns the answer or an
// EtcdError with a reason; nothing throws. A call tries the member that answered last, then the
// others in order; it moves on only when a member cannot be reached, times out or says it is
// unavailable (gRPC UNAVAILABLE), never after etcd refused the request itself. Connections are kept
// open across calls (HTTP/1.1 keep-alive): a call takes an idle connection to the member it asks,
// or opens one, and leaves it for the next call after a whole reply; one a member closed while
// idle costs one resend on a new connection (etcd_client.cpp says why that is safe). A connection
// serves one call at a time, so calls may overlap; each watch has a connection of its own. The
// client must outlive its calls; it is not thread-safe (one executor, as everywhere in herald).
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/beast_ssl.hpp"
#include "fleet/etcd_messages.hpp"

namespace herald::fleet {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "host:port", host an IP literal or a name
  bool tls = false;
  std::string ca_file;    // TLS: the CA that signed the members' certificates
  std::string cert_file;  // TLS: this site's client certificate (empty: none)
  std::string key_file;
  std::string user;  // empty: no etcd authentication
  std::string password;
  std::chrono::milliseconds timeout{2000};  // per member and request
  // Idle connections kept open per member for the next calls; more, opened by overlapping calls,
  // are closed after their reply.
  std::size_t idle_per_member = 4;
  // How long a call keeps asking while members answer UNAVAILABLE (no leader, leader changed:
  // an election, about one election timeout) before it fails; members that do not answer at all
  // fail it at once. 0: one pass over the members.
  std::chrono::milliseconds election_wait{3000};
};

// Endpoints as an operator types them on a command line: "a:2379,b:2379" (empty items dropped).
std::vector<std::string> split_endpoints(const std::string& list);

class EtcdClient {
 public:
  template <typename T>
  using Task = boost::asio::awaitable<EtcdResult<T>>;
  /// Called with each message of a watch stream; returning false ends the watch.
  using WatchHandler = std::function<bool(const WatchBatch&)>;

  /// Fails when the TLS files cannot be loaded or no endpoint is given.
  static EtcdResult<std::unique_ptr<EtcdClient>> create(boost::asio::any_io_executor ex, EtcdClientOptions opts);
  ~EtcdClient();

  Task<RangeResult> get(std::string key);
  Task<RangeResult> get_prefix(std::string prefix);
  /// [key, range_end) at `revision` (0: the newest), at most `limit` keys (0: all; RangeResult::more
  /// says whether keys were left). A revision compacted away fails with grpc_code 11 (OutOfRange).
  Task<RangeResult> range(std::string key, std::string range_end, std::int64_t revision = 0, std::int64_t limit = 0);
  /// Returns the revision of the put.
  Task<std::int64_t> put(std::string key, std::string value, std::int64_t lease = 0);
  Task<std::int64_t> del(std::string key, std::string range_end = {});
  Task<TxnResult> txn(Txn t);
  Task<LeaseGrant> lease_grant(std::int64_t ttl_seconds);
  /// One keep-alive; a TTL of 0 in the answer means the lease has expired.
  Task<LeaseGrant> lease_keepalive(std::int64_t id);
  Task<Done> lease_revoke(std::int64_t id);
  /// Watches [key, range_end) from start_revision (0: from now) until the handler returns false
  /// (Done), the stream ends or breaks (an error), or nothing arrives for `idle` (an error; zero:
  /// wait forever). Restart from the last revision seen + 1 to miss nothing.
  Task<Done> watch(std::string key, std::string range_end, std::int64_t start_revision, WatchHandler on_batch,
                   std::chrono::milliseconds idle = std::chrono::milliseconds{0});

  /// The member the last successful call went to.
  const std::string& endpoint() const;

 private:
  struct Impl;
  explicit EtcdClient(std::unique_ptr<Impl> impl);
  Task<std::string> call(std::string path, std::string body);
  std::unique_ptr<Impl> impl_;
};

}  // namespace herald::fleet
