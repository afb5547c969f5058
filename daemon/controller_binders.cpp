#include "daemon/controller_binders.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/controller_prefix_log.hpp"

namespace herald::daemon {

namespace asio = boost::asio;

struct AddressBinders::Binder {
  std::string key;
  std::string signature;  // binding settings + addresses: equal signature, nothing to redo
  std::unique_ptr<netlink::LibnlBackend> backend;
  std::unique_ptr<netlink::AddressBinder> binder;
  std::unique_ptr<asio::posix::stream_descriptor> watch;
  std::vector<std::string> services;
  std::string error;
};

namespace {

std::string signature_of(const BinderGroup& g) {
  std::string sig = g.key;
  for (const auto& s : g.config.services) {
    sig += "|" + s.service;
    for (const auto& a : s.addresses) sig += " " + a.to_string();
  }
  return sig;
}

}  // namespace

AddressBinders::AddressBinders(asio::io_context& io, log::Logger& log, OnChange on_change)
    : io_(io), log_(log), on_change_(std::move(on_change)) {}

AddressBinders::~AddressBinders() = default;


void AddressBinders::bind(const conf::Config& config) {
  auto groups = binder_groups(config);
  std::vector<std::unique_ptr<Binder>> next;
  for (auto& g : groups) {
    std::string sig = signature_of(g);
    auto same = std::find_if(binders_.begin(), binders_.end(),
                             [&](const auto& b) { return b && b->signature == sig && b->error.empty(); });
    if (same != binders_.end()) {
      next.push_back(std::move(*same));
      continue;
    }
    auto b = std::make_unique<Binder>();
    b->key = g.key;
    b->signature = sig;
    for (const auto& sa : g.config.services) b->services.push_back(sa.service);
    auto backend = netlink::LibnlBackend::open();
    if (!backend) {
      b->error = backend.error().message;
    } else {
      b->backend = std::move(backend.value());
      b->binder = std::make_unique<netlink::AddressBinder>(*b->backend, g.config);
      if (auto st = b->binder->bind(); !st) b->error = st.error().message;
    }
    if (!b->error.empty()) {
      log_.write(log::Level::error, "address binding failed",
                 {{"interface", g.config.interface}, {"reason", b->error}});
    } else {
      for (const auto& sa : g.config.services) {
        if (sa.addresses.size() <= kPrefixLinesPerService) {
          for (const auto& a : sa.addresses)
            log_.write(log::Level::info, "address bound",
                       {{"service", sa.service}, {"address", a.to_string()}, {"interface", g.config.interface},
                        {"origin", b->binder->origin(a) == netlink::Origin::Adopted ? "adopted" : "added"}});
          continue;
        }
        std::uint64_t adopted = 0;
        for (const auto& a : sa.addresses) adopted += b->binder->origin(a) == netlink::Origin::Adopted ? 1 : 0;
        log_.write(log::Level::info, "addresses bound",
                   {{"service", sa.service}, {"count", static_cast<std::uint64_t>(sa.addresses.size())},
                    {"added", sa.addresses.size() - adopted}, {"adopted", adopted},
                    {"first", sa.addresses.front().to_string()}, {"interface", g.config.interface}});
      }
      arm(*b);
    }
    next.push_back(std::move(b));
  }
  // Binders no longer wanted: give back what they added (when configured to).
  for (auto& b : binders_)
    if (b && b->binder) {
      if (b->watch) b->watch->cancel();
      for (const auto& e : b->binder->release())
        log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
    }
  binders_ = std::move(next);

  // Service readiness from the binders that hold them (services with bind = false are in none
  // and stay ready).
  addresses_.clear();
  for (auto& b : binders_)
    for (const auto& name : b->services) {
      AddressInput& a = addresses_[name];
      if (!b->error.empty()) {
        a = {false, b->error};
      } else {
        const bool ready = b->binder->service_ready(name);
        a = {ready, ready ? "" : fmt::format("addresses of {} not present on {}", name, b->binder->interface())};
      }
    }
}

void AddressBinders::arm(Binder& b) {
  if (!b.binder || b.binder->fd() < 0) return;
  if (!b.watch) {
    int fd = ::dup(b.binder->fd());
    if (fd < 0) {
      log_.write(log::Level::error, "cannot watch addresses", {{"reason", "dup failed"}});
      return;
    }
    b.watch = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
  }
  b.watch->async_wait(asio::posix::stream_descriptor::wait_read, [this, bp = &b](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled
    on_readable(*bp);
  });
}

void AddressBinders::on_readable(Binder& b) {
  std::vector<ServiceAddressChange> changes;
  for (const auto& ev : b.binder->process()) {
    using K = netlink::Event::Kind;
    auto level = (ev.kind == K::AddressDown || ev.kind == K::InterfaceDown || ev.kind == K::ServiceDown ||
                  ev.kind == K::ReaddFailed)
                     ? log::Level::warning
                     : log::Level::info;
    log_.write(level, "address event",
               {{"event", netlink::to_string(ev.kind)},
                {"interface", ev.interface},
                {"address", ev.address ? ev.address->to_string() : std::string("-")},
                {"service", ev.service.empty() ? std::string("-") : ev.service},
                {"reason", ev.reason}});
    if (ev.kind == K::ServiceDown || ev.kind == K::ServiceUp) {
      const bool ready = ev.kind == K::ServiceUp;
      addresses_[ev.service] = {ready, ready ? "" : ev.reason};
      changes.push_back({ev.service, ev.reason});
    }
  }
  if (!changes.empty()) on_change_(changes);
  arm(b);
}

void AddressBinders::release() {
  for (auto& b : binders_) {
    if (!b->binder) continue;
    if (b->watch) b->watch->cancel();
    for (const auto& e : b->binder->release())
      log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
  }
}

void AddressBinders::undo() {
  for (auto& b : binders_) {
    if (!b->binder) continue;
    if (b->watch) b->watch->cancel();
    for (const auto& e : b->binder->undo())
      log_.write(log::Level::warning, "address release failed", {{"reason", e.message}});
  }
}

AddressInput AddressBinders::address(const std::string& service) const {
  auto it = addresses_.find(service);
  return it == addresses_.end() ? AddressInput{} : it->second;
}

}  // namespace herald::daemon
