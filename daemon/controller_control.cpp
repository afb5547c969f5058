// The controller's operator commands (heraldctl over the control socket): each changes the
// persistent operator state, saves it, and has the policy decide again.
#include <fmt/format.h>

#include <algorithm>

#include "daemon/controller.hpp"

namespace herald::daemon {

using SystemClock = std::chrono::system_clock;

// ---------------------------------------------------------------- control

void Controller::publish_event(nlohmann::json event) {
  if (!control_) return;
  event["ts"] = log::format_timestamp(SystemClock::now());
  control_->publish(event);
}

std::optional<std::string> Controller::save_state() {
  auto err = state_file_.save(state_);
  if (err) log_.write(log::Level::error, "state not saved", {{"reason", *err}});
  return err;
}

nlohmann::json Controller::handle(const control::Command& cmd, const control::Caller& caller) {
  return std::visit(
      [&](const auto& c) -> nlohmann::json {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, control::Status>) {
          return control::ok_response({{"status", status_json()}});
        } else if constexpr (std::is_same_v<T, control::Drain>) {
          return do_drain(c, caller);
        } else if constexpr (std::is_same_v<T, control::Undrain>) {
          return do_undrain(c, caller);
        } else if constexpr (std::is_same_v<T, control::Steer>) {
          return do_steer(c.service, PersistentState::Steering{c.prepend, c.med}, caller);
        } else if constexpr (std::is_same_v<T, control::SteerClear>) {
          return do_steer(c.service, std::nullopt, caller);
        } else if constexpr (std::is_same_v<T, control::ClearHold>) {
          return do_clear_hold(c, caller);
        } else if constexpr (std::is_same_v<T, control::Routes>) {
          return do_routes(c);
        } else if constexpr (std::is_same_v<T, control::PeerAction>) {
          return do_peer(c, caller);
        } else if constexpr (std::is_same_v<T, control::Reload>) {
          log_.write(log::Level::notice, "reload requested", {{"uid", static_cast<std::int64_t>(caller.uid)}});
          if (auto err = reload()) return control::error_response(*err);
          return control::ok_response({{"message", "configuration reloaded from " + config_path_}});
        } else {
          return control::ok_response();  // events: the server subscribes the connection
        }
      },
      cmd);
}

namespace {
std::string unknown_service_error(std::string_view verb, std::string_view name,
                                  const std::vector<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return fmt::format("{}: unknown service \"{}\" (configured: {})", verb, name, list.empty() ? "none" : list);
}
}  // namespace

std::vector<std::string> Controller::services_of_unit(const std::string& unit) const {
  std::vector<std::string> out;
  for (const auto& s : config_.services)
    if (std::find(s.units.begin(), s.units.end(), unit) != s.units.end()) out.push_back(s.name);
  return out;
}

namespace {
std::string unit_subject(const std::string& unit, const std::vector<std::string>& services) {
  std::string list;
  for (const auto& s : services) list += (list.empty() ? "" : ", ") + s;
  return fmt::format("unit {} ({})", unit, list.empty() ? "no service lists it" : "services " + list);
}
}  // namespace

nlohmann::json Controller::do_drain(const control::Drain& d, const control::Caller& caller) {
  PersistentState::DrainRecord rec{d.reason, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 SystemClock::now().time_since_epoch())
                                                 .count()};
  std::string subject;
  // Draining again what is drained updates the reason but keeps the start: a drain whose
  // period is over must not be announced again.
  auto keep_since = [&](const std::optional<PersistentState::DrainRecord>& old) {
    if (old && !old->fail_safe) rec.since_ms = std::min(rec.since_ms, old->since_ms);
  };
  if (d.target.all) {
    keep_since(state_.drain_all);
    state_.drain_all = rec;
    subject = "all services";
  } else if (!d.target.unit.empty()) {
    auto it = state_.unit_drains.find(d.target.unit);
    keep_since(it == state_.unit_drains.end() ? std::nullopt : std::optional(it->second));
    state_.unit_drains[d.target.unit] = rec;
    subject = unit_subject(d.target.unit, services_of_unit(d.target.unit));
  } else {
    if (!policy_.decision(d.target.service))
      return control::error_response(unknown_service_error("drain", d.target.service, policy_.services()));
    auto it = state_.drained.find(d.target.service);
    keep_since(it == state_.drained.end() ? std::nullopt : std::optional(it->second));
    state_.drained[d.target.service] = rec;
    subject = d.target.service;
  }
  log_.write(log::Level::notice, "drain", {{"service", subject}, {"reason", d.reason},
                                           {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "drain"}, {"service", subject}, {"reason", d.reason}, {"uid", caller.uid}});
  auto warn = save_state();
  evaluate_all("operator drain");
  publish_routes("operator drain");
  nlohmann::json r = {{"message", "drained " + subject}};
  if (warn) r["warning"] = *warn;
  return control::ok_response(r);
}

nlohmann::json Controller::do_undrain(const control::Undrain& d, const control::Caller& caller) {
  std::string subject;
  if (d.target.all) {
    state_.drain_all.reset();
    state_.drained.clear();
    subject = "all services";
  } else if (!d.target.unit.empty()) {
    // Only this unit's hold: an operator's own drain of the same services stays.
    state_.unit_drains.erase(d.target.unit);
    subject = unit_subject(d.target.unit, services_of_unit(d.target.unit));
  } else {
    if (!policy_.decision(d.target.service))
      return control::error_response(unknown_service_error("undrain", d.target.service, policy_.services()));
    state_.drained.erase(d.target.service);
    subject = d.target.service;
  }
  log_.write(log::Level::notice, "undrain", {{"service", subject}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "undrain"}, {"service", subject}, {"uid", caller.uid}});
  auto warn = save_state();
  evaluate_all("operator undrain");
  publish_routes("operator undrain");
  nlohmann::json r = {{"message", "undrained " + subject}};
  if (warn) r["warning"] = *warn;
  if (state_.drain_all && !d.target.all) r["warning"] = "drain --all is still in force";
  if (!d.target.unit.empty()) {
    std::string held;  // services another holder keeps drained (the operator's drain survives)
    for (const auto& sc : config_.services)
      if (std::find(sc.units.begin(), sc.units.end(), d.target.unit) != sc.units.end() &&
          !drain_holders(state_, sc).empty())
        held += (held.empty() ? "" : ", ") + sc.name;
    if (!held.empty()) r["warning"] = "still drained by another holder: " + held;
  }
  return control::ok_response(r);
}

nlohmann::json Controller::do_clear_hold(const control::ClearHold& c, const control::Caller& caller) {
  if (!policy_.decision(c.service))
    return control::error_response(unknown_service_error("clear-hold", c.service, policy_.services()));
  log_.write(log::Level::notice, "clear-hold", {{"service", c.service}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  // The monitor reports the end of the hold through on_health, which saves the state.
  if (!monitor_ || !monitor_->clear_flap_hold(c.service))
    return control::ok_response({{"message", c.service + " has no flap hold; nothing changed"}});
  publish_event({{"event", "clear-hold"}, {"service", c.service}, {"uid", caller.uid}});
  nlohmann::json r = {{"message", "flap hold of " + c.service + " cleared"}};
  return control::ok_response(r);
}

nlohmann::json Controller::do_steer(const std::string& service, std::optional<PersistentState::Steering> st,
                                    const control::Caller& caller) {
  if (!policy_.decision(service))
    return control::error_response(unknown_service_error("steer", service, policy_.services()));
  std::string what;
  if (st) {
    state_.steering[service] = *st;
    what = fmt::format("prepend {} med {}", st->prepend, st->med ? std::to_string(*st->med) : "unchanged");
  } else {
    state_.steering.erase(service);
    what = "cleared";
  }
  log_.write(log::Level::notice, "steer", {{"service", service}, {"new", what}, {"uid", static_cast<std::int64_t>(caller.uid)}});
  publish_event({{"event", "steer"}, {"service", service}, {"new", what}, {"uid", caller.uid}});
  auto warn = save_state();
  publish_routes("operator steering");
  nlohmann::json r = {{"message", "steering of " + service + ": " + what}};
  if (warn) r["warning"] = *warn;
  return control::ok_response(r);
}

}  // namespace herald::daemon
