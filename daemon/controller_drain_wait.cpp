// "heraldctl drain --wait": the drain is done at once like any drain; its reply is kept and
// sent once DrainWaits (drain_wait.hpp, pure) says the prefixes are withdrawn from every peer
// and the settle time has passed. The loop never blocks: the wait ends from a publication of
// the routes (a drain-period end comes through the policy timer and publish_routes) or from
// the settle timer here.
#include <fmt/format.h>

#include <algorithm>

#include "daemon/controller.hpp"

namespace herald::daemon {

namespace {
using Steady = std::chrono::steady_clock;
}

void Controller::handle_async(const control::Command& cmd, const control::Caller& caller,
                              control::Server::Reply reply) {
  const auto* d = std::get_if<control::Drain>(&cmd);
  if (!d || !d->wait) {
    reply(handle(cmd, caller));
    return;
  }
  // The services this drain waits for, and whether they were all withdrawn before it (a drain
  // whose period is long over answers at once).
  std::vector<std::string> services;
  if (d->target.all) services = policy_.services();
  else if (!d->target.unit.empty()) services = services_of_unit(d->target.unit);
  else services = {d->target.service};
  bool withdrawn_before = true;
  for (const auto& name : services)
    if (const auto* dec = policy_.decision(name); dec && (dec->announced || dec->state == ServiceState::Up))
      withdrawn_before = false;
  auto r = do_drain(*d, caller);
  if (!r.value("ok", false)) {
    reply(std::move(r));
    return;
  }
  const auto settle = d->settle_ms ? std::chrono::milliseconds(*d->settle_ms) : config_.global.drain_settle;
  const auto id = drain_waits_.add(services, settle, withdrawn_before, Steady::now());
  log_.write(log::Level::info, "drain wait started",
             {{"service", r.value("message", std::string())},
              {"settle_ms", static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(settle).count())},
              {"uid", static_cast<std::int64_t>(caller.uid)}});
  drain_wait_replies_[id] = [reply = std::move(reply), r](const DrainWaits::Done& done) mutable {
    if (done.ok) {
      r["message"] = r.value("message", std::string()) + ": " + done.message;
      reply(std::move(r));
    } else {
      reply(control::error_response("drain --wait: " + done.message));
    }
  };
  check_drain_waits();
}

void Controller::check_drain_waits() {
  if (drain_waits_.pending() == 0) return;
  auto done = drain_waits_.update(
      [this](const std::string& name) -> std::optional<DrainWaits::View> {
        const auto* dec = policy_.decision(name);
        if (!dec) return std::nullopt;
        // Down (e.g. the DNS server already dead at its unit's stop) is out of service too: the
        // wait ends when it is withdrawn; only Up (undrained meanwhile) breaks it.
        return DrainWaits::View{dec->state != ServiceState::Up, dec->announced};
      },
      Steady::now());
  for (const auto& d : done) {
    auto it = drain_wait_replies_.find(d.id);
    if (it == drain_wait_replies_.end()) continue;
    auto answer = std::move(it->second);
    drain_wait_replies_.erase(it);
    log_.write(d.ok ? log::Level::info : log::Level::warning, d.ok ? "drain wait over" : "drain wait failed",
               {{"reason", d.message}});
    answer(d);
  }
  arm_drain_wait_timer();
}

void Controller::arm_drain_wait_timer() {
  drain_wait_timer_.cancel();
  const auto due = drain_waits_.next_wakeup();
  if (!due) return;
  drain_wait_timer_.expires_at(*due);
  drain_wait_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) check_drain_waits();
  });
}

}  // namespace herald::daemon
