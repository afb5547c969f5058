#include "fleet/publisher.hpp"

namespace herald::fleet {

namespace asio = boost::asio;

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
  } else if (written_ && *written_ == *want_) {
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
  const std::string key = keys_.site(want_->site);
  auto p = co_await etcd_.put(key, to_json(*want_), lease_);
  if (!p) {
    report_("publishing " + key + " failed: " + p.error().reason);
    // A put under a lease that no longer exists fails with NotFound (gRPC 5): start over.
    if (p.error().grpc_code == 5) lease_ = 0;
    co_return;
  }
  written_ = want_;
  report_("published " + key + " lease=" + std::to_string(lease_) + " revision=" + std::to_string(p.value()));
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
    auto r = co_await etcd_.lease_revoke(lease_);
    report_(r ? "revoked lease " + std::to_string(lease_) + ": left the fleet view"
              : "revoking lease " + std::to_string(lease_) + " failed: " + r.error().reason);
  }
  timer_.reset();
}

}  // namespace herald::fleet
