#include "fleet/publisher.hpp"

namespace herald::fleet {

namespace asio = boost::asio;

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

SitePublisher::SitePublisher(EtcdClient& etcd, Keys keys, std::chrono::seconds ttl, Report report)
    : etcd_(etcd), keys_(std::move(keys)), ttl_(ttl), report_(std::move(report)) {}

void SitePublisher::set(SiteState state) {
  want_ = std::move(state);
  if (timer_) timer_->cancel();  // write now
}

void SitePublisher::stop() {
  stopping_ = true;
  if (timer_) timer_->cancel();
}

bool SitePublisher::member_due() const {
  return !member_read_ || !member_written_ || !member_matches(*member_written_, *want_) ||
         std::chrono::steady_clock::now() - member_at_ >= member_refresh;
}

asio::awaitable<void> SitePublisher::tick() {
  if (!want_) co_return;
  if (lease_ == 0) {
    auto g = co_await etcd_.lease_grant(ttl_.count());
    if (!g) {
      report_("lease grant failed: " + g.error().reason);
      co_return;
    }
    lease_ = g->id;
    written_.reset();
    index_written_.clear();
    member_read_ = false;  // a new lease (start, rejoin): the member record says so
  } else if (written_ && *written_ == *want_ && !member_due()) {
    auto k = co_await etcd_.lease_keepalive(lease_);
    if (!k) {
      report_("keep-alive of lease " + std::to_string(lease_) + " failed: " + k.error().reason);
      co_return;
    }
    if (k->ttl > 0) co_return;
    report_("lease " + std::to_string(lease_) + " lost (expired or revoked): publishing again under a new one");
    lease_ = 0;
    co_return co_await tick();
  }
  co_await write();
}

asio::awaitable<void> SitePublisher::write() {
  const std::string key = keys_.site(want_->site);
  std::optional<Member> member;
  if (member_due()) {
    if (!member_read_) {
      // Once per lease: the record's first_seen is kept across restarts.
      auto g = co_await etcd_.get(keys_.member(want_->site));
      if (!g) {
        report_("reading " + keys_.member(want_->site) + " failed: " + g.error().reason);
        co_return;
      }
      member_written_.reset();
      if (!g->kvs.empty())
        if (auto m = member_from_json(g->kvs[0].value)) member_written_ = std::move(m.value());
      member_read_ = true;
    }
    member = member_of(*want_, member_written_, unix_now());
  }
  Txn t = publish_txn(keys_, *want_, written_, index_written_, lease_, member);
  if (t.success.empty()) co_return;
  auto p = co_await etcd_.txn(std::move(t));
  if (!p) {
    report_("publishing " + key + " failed: " + p.error().reason);
    // A put under a lease that no longer exists fails with NotFound (gRPC 5): start over.
    if (p.error().grpc_code == 5) lease_ = 0;
    co_return;
  }
  written_ = want_;
  index_written_ = index_flags(*want_);
  if (member) {
    member_written_ = member;
    member_at_ = std::chrono::steady_clock::now();
  }
  report_("published " + key + " lease=" + std::to_string(lease_) + " revision=" + std::to_string(p->revision));
}

asio::awaitable<void> SitePublisher::run() {
  timer_.emplace(co_await asio::this_coro::executor);
  while (!stopping_) {
    co_await tick();
    if (stopping_) break;
    timer_->expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3);
    boost::system::error_code ec;
    co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (lease_ != 0) {
    if (want_ && member_read_) {
      // A clean stop: the member record says when the site was last seen.
      std::string mkey = keys_.member(want_->site);
      std::string value = to_json(member_of(*want_, member_written_, unix_now()));
      auto m = co_await etcd_.put(std::move(mkey), std::move(value));
      if (!m) report_("writing " + keys_.member(want_->site) + " failed: " + m.error().reason);
    }
    auto r = co_await etcd_.lease_revoke(lease_);
    report_(r ? "revoked lease " + std::to_string(lease_) + ": left the fleet view"
              : "revoking lease " + std::to_string(lease_) + " failed: " + r.error().reason);
  }
  timer_.reset();
}

}  // namespace herald::fleet
