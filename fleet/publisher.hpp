// Keeps this site's state published at sites/<site> under a lease of its own: grants the lease,
// writes the state, keeps the lease alive every ttl/3, rewrites the key only when the state
// changes, and when the lease is lost (expired during a partition, revoked by an operator) grants
// a new one and writes the state again. With the state, in the same txn, it keeps the floor's
// index keys (index/<service>/<site>, under the lease, rewritten only when a service's announced
// flag changes) and the site's member record (members/<site>, no lease; member.hpp says when it is
// written). etcd errors never end it: each is reported through `report` and retried at the next
// tick. stop() writes the member record's last_seen and revokes the lease, so the site leaves the
// live fleet view at once.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "fleet/etcd_client.hpp"
#include "fleet/keys.hpp"
#include "fleet/member.hpp"
#include "fleet/site_state.hpp"

namespace herald::fleet {

class SitePublisher {
 public:
  /// One event per call, for the log: what happened and why ("published lease=... revision=...",
  /// "keep-alive failed: <reason>", "lease lost: publishing again").
  using Report = std::function<void(const std::string&)>;

  SitePublisher(EtcdClient& etcd, Keys keys, std::chrono::seconds ttl, Report report);
  /// The state to publish; written at once when it differs from the last one written.
  void set(SiteState state);
  /// Runs until stop(); then revokes the lease.
  boost::asio::awaitable<void> run();
  void stop();
  std::int64_t lease() const { return lease_; }

  /// How often the member record's last_seen is refreshed while nothing else rewrites it.
  static constexpr std::chrono::hours member_refresh{1};

 private:
  boost::asio::awaitable<void> tick();
  boost::asio::awaitable<void> write();
  bool member_due() const;
  EtcdClient& etcd_;
  Keys keys_;
  std::chrono::seconds ttl_;
  Report report_;
  std::optional<SiteState> want_;
  std::optional<SiteState> written_;
  IndexFlags index_written_;
  std::optional<Member> member_written_;  // as last written (or read back at a new lease)
  bool member_read_ = false;              // read once per lease, to keep first_seen
  std::chrono::steady_clock::time_point member_at_{};
  std::int64_t lease_ = 0;
  bool stopping_ = false;
  std::optional<boost::asio::steady_timer> timer_;
};

}  // namespace herald::fleet
