#include "daemon/control_protocol.hpp"

#include "base/edit_distance.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace herald::control {

using nlohmann::json;

namespace {

// Longest service name or reason we accept; both end up in logs and in the state file.
constexpr std::size_t kMaxServiceBytes = 255;
constexpr std::size_t kMaxReasonBytes = 1024;

// " (did you mean \"x\"?)" when a candidate starts with `word` or is within a small edit
// distance of it, else "".
template <typename Range>
std::string suggestion(std::string_view word, const Range& candidates) {
  if (word.size() > 64) return "";
  if (word.size() >= 2) {
    for (std::string_view c : candidates) {
      if (c.rfind(word, 0) == 0) return fmt::format(" (did you mean \"{}\"?)", c);
    }
  }
  std::string_view best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(2, word.size() / 2));
  if (best_d <= limit) return fmt::format(" (did you mean \"{}\"?)", best);
  return "";
}

// Quoted for an error message; long or binary words are cut so errors stay one short line.
std::string quote_word(std::string_view s) {
  json j = std::string(s.substr(0, 64));
  std::string out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 64) out.insert(out.size() - 1, "...");
  return out;
}

using Error = Unexpected<std::string>;

Error fail(std::string_view cmd, std::string_view what) {
  return unexpected(fmt::format("{}: {}", cmd, what));
}

// Rejects fields a command does not know, naming the closest known one.
std::optional<std::string> check_fields(std::string_view cmd, const json& req,
                                        std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : req.items()) {
    if (key == "cmd") continue;
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (allowed.size() == 0) {
      return fmt::format("{}: takes no arguments, got {}", cmd, quote_word(key));
    }
    return fmt::format("{}: unknown field {}{}", cmd, quote_word(key), suggestion(key, allowed));
  }
  return std::nullopt;
}

Expected<std::string, std::string> get_service(std::string_view cmd, const json& v) {
  if (!v.is_string()) return fail(cmd, "\"service\" must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty()) return fail(cmd, "\"service\" must not be empty");
  if (s.size() > kMaxServiceBytes) {
    return fail(cmd, fmt::format("\"service\" longer than {} bytes", kMaxServiceBytes));
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return fail(cmd, "\"service\" contains control characters");
  }
  return s;
}

Expected<Target, std::string> get_target(std::string_view cmd, const json& req) {
  auto svc = req.find("service");
  auto all = req.find("all");
  if (auto unit = req.find("unit"); unit != req.end()) {
    if (svc != req.end() || all != req.end()) return fail(cmd, "give one of \"service\", \"all\" or \"unit\"");
    if (!unit->is_string()) return fail(cmd, "\"unit\" must be a string");
    auto u = unit->get<std::string>();
    if (u.empty()) return fail(cmd, "\"unit\" must not be empty");
    if (u.size() > kMaxServiceBytes) return fail(cmd, fmt::format("\"unit\" longer than {} bytes", kMaxServiceBytes));
    for (unsigned char c : u)
      if (c < 0x20 || c == 0x7F) return fail(cmd, "\"unit\" contains control characters");
    return Target{false, {}, std::move(u)};
  }
  bool has_all = false;
  if (all != req.end()) {
    if (!all->is_boolean()) return fail(cmd, "\"all\" must be true or false");
    has_all = all->get<bool>();
  }
  if (svc != req.end() && has_all) {
    return fail(cmd, "give either \"service\" or \"all\", not both");
  }
  if (has_all) return Target{true, {}, {}};
  if (svc == req.end()) return fail(cmd, "needs \"service\" or \"all\"");
  auto name = get_service(cmd, *svc);
  if (!name) return unexpected(name.error());
  return Target{false, std::move(name.value()), {}};
}

// An integer in [lo, hi]; JSON floats (2.0) are refused so "prepend":1.5 cannot round silently.
std::optional<std::int64_t> get_int(const json& v, std::int64_t lo, std::int64_t hi) {
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(hi)) return std::nullopt;
    auto i = static_cast<std::int64_t>(u);
    return i >= lo ? std::optional(i) : std::nullopt;
  }
  if (v.is_number_integer()) {
    auto i = v.get<std::int64_t>();
    return i >= lo && i <= hi ? std::optional(i) : std::nullopt;
  }
  return std::nullopt;
}

Expected<Command, std::string> parse_drain(const json& req) {
  if (auto e = check_fields("drain", req, {"service", "all", "unit", "reason", "wait", "settle_ms"})) return unexpected(*e);
  auto target = get_target("drain", req);
  if (!target) return unexpected(target.error());
  Drain d{std::move(target.value()), {}, false, std::nullopt};
  if (auto w = req.find("wait"); w != req.end()) {
    if (!w->is_boolean()) return fail("drain", "\"wait\" must be true or false");
    d.wait = w->get<bool>();
  }
  if (auto st = req.find("settle_ms"); st != req.end()) {
    auto v = get_int(*st, 0, 3'600'000);
    if (!v) return fail("drain", "\"settle_ms\" must be an integer 0..3600000");
    if (!d.wait) return fail("drain", "\"settle_ms\" needs \"wait\"");
    d.settle_ms = *v;
  }
  if (auto r = req.find("reason"); r != req.end()) {
    if (!r->is_string()) return fail("drain", "\"reason\" must be a string");
    d.reason = r->get<std::string>();
    if (d.reason.size() > kMaxReasonBytes) {
      return fail("drain", fmt::format("\"reason\" longer than {} bytes", kMaxReasonBytes));
    }
  }
  return Command{std::move(d)};
}

Expected<Command, std::string> parse_undrain(const json& req) {
  if (auto e = check_fields("undrain", req, {"service", "all", "unit"})) return unexpected(*e);
  auto target = get_target("undrain", req);
  if (!target) return unexpected(target.error());
  return Command{Undrain{std::move(target.value())}};
}

Expected<Command, std::string> parse_steer(const json& req) {
  if (auto e = check_fields("steer", req, {"service", "prepend", "med", "clear"})) {
    return unexpected(*e);
  }
  auto svc = req.find("service");
  if (svc == req.end()) return fail("steer", "needs \"service\"");
  auto name = get_service("steer", *svc);
  if (!name) return unexpected(name.error());
  auto prepend = req.find("prepend");
  auto med = req.find("med");
  if (auto clear = req.find("clear"); clear != req.end()) {
    if (!clear->is_boolean() || !clear->get<bool>()) {
      return fail("steer", "\"clear\" must be true (to remove the override)");
    }
    if (prepend != req.end() || med != req.end()) {
      return fail("steer", "\"clear\" cannot be combined with \"prepend\" or \"med\"");
    }
    return Command{SteerClear{std::move(name.value())}};
  }
  if (prepend == req.end() && med == req.end()) {
    return fail("steer", "needs \"prepend\" and/or \"med\", or \"clear\":true");
  }
  Steer s{std::move(name.value()), 0, std::nullopt};
  if (prepend != req.end()) {
    auto p = get_int(*prepend, 0, kMaxPrepend);
    if (!p) return fail("steer", fmt::format("prepend must be an integer 0..{}", kMaxPrepend));
    s.prepend = static_cast<int>(*p);
  }
  if (med != req.end()) {
    auto m = get_int(*med, 0, std::numeric_limits<std::uint32_t>::max());
    if (!m) return fail("steer", "med must be an integer 0..4294967295");
    s.med = static_cast<std::uint32_t>(*m);
  }
  return Command{std::move(s)};
}

Expected<Command, std::string> parse_clear_hold(const json& req) {
  if (auto e = check_fields("clear-hold", req, {"service"})) return unexpected(*e);
  auto svc = req.find("service");
  if (svc == req.end()) return fail("clear-hold", "needs \"service\"");
  auto name = get_service("clear-hold", *svc);
  if (!name) return unexpected(name.error());
  return Command{ClearHold{std::move(name.value())}};
}

Expected<std::string, std::string> get_peer(std::string_view cmd, const json& v) {
  if (!v.is_string()) return fail(cmd, "\"peer\" must be a string");
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty()) return fail(cmd, "\"peer\" must not be empty");
  if (s.size() > kMaxServiceBytes) return fail(cmd, fmt::format("\"peer\" longer than {} bytes", kMaxServiceBytes));
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return fail(cmd, "\"peer\" contains control characters");
  return s;
}

Expected<Command, std::string> parse_routes(const json& req) {
  if (auto e = check_fields("routes", req, {"peer"})) return unexpected(*e);
  Routes r;
  if (auto p = req.find("peer"); p != req.end()) {
    auto name = get_peer("routes", *p);
    if (!name) return unexpected(name.error());
    r.peer = std::move(name.value());
  }
  return Command{std::move(r)};
}

Expected<Command, std::string> parse_peer(const json& req) {
  if (auto e = check_fields("peer", req, {"action", "peer", "reason"})) return unexpected(*e);
  PeerAction a;
  auto act = req.find("action");
  if (act == req.end() || !act->is_string()) return fail("peer", "needs \"action\": \"reset\", \"disable\" or \"enable\"");
  const auto& word = act->get_ref<const std::string&>();
  if (word == "reset") {
    a.action = PeerActionKind::Reset;
  } else if (word == "disable") {
    a.action = PeerActionKind::Disable;
  } else if (word == "enable") {
    a.action = PeerActionKind::Enable;
  } else {
    std::array<std::string_view, 3> known = {"reset", "disable", "enable"};
    return fail("peer", fmt::format("unknown action {}{} (reset, disable, enable)", quote_word(word),
                                    suggestion(word, known)));
  }
  auto p = req.find("peer");
  if (p == req.end()) return fail("peer", "needs \"peer\"");
  auto name = get_peer("peer", *p);
  if (!name) return unexpected(name.error());
  a.peer = std::move(name.value());
  if (auto r = req.find("reason"); r != req.end()) {
    if (a.action == PeerActionKind::Enable) return fail("peer", "enable takes no \"reason\"");
    if (!r->is_string()) return fail("peer", "\"reason\" must be a string");
    a.reason = r->get<std::string>();
    if (a.reason.size() > kMaxReasonBytes) return fail("peer", fmt::format("\"reason\" longer than {} bytes", kMaxReasonBytes));
  }
  return Command{std::move(a)};
}

template <typename C>
Expected<Command, std::string> parse_bare(std::string_view cmd, const json& req) {
  if (auto e = check_fields(cmd, req, {})) return unexpected(*e);
  return Command{C{}};
}

// nlohmann's message is "[json.exception.parse_error.101] parse error at line 1, column 13:
// syntax error while parsing value - invalid literal; last read: '...'": keep the middle.
std::string json_error_detail(const json::parse_error& e) {
  std::string_view what = e.what();
  auto col = what.find("column ");
  if (col != std::string_view::npos) {
    auto colon = what.find(": ", col);
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  if (auto last = what.find("; last read"); last != std::string_view::npos) {
    what = what.substr(0, last);
  }
  return std::string(what.substr(0, 160));
}

}  // namespace

std::string_view to_string(PeerActionKind a) noexcept {
  switch (a) {
    case PeerActionKind::Reset: return "reset";
    case PeerActionKind::Disable: return "disable";
    case PeerActionKind::Enable: return "enable";
  }
  return "reset";
}

std::string_view command_name(const Command& cmd) noexcept {
  struct Name {
    std::string_view operator()(const Status&) const { return "status"; }
    std::string_view operator()(const Drain&) const { return "drain"; }
    std::string_view operator()(const Undrain&) const { return "undrain"; }
    std::string_view operator()(const Steer&) const { return "steer"; }
    std::string_view operator()(const SteerClear&) const { return "steer"; }
    std::string_view operator()(const ClearHold&) const { return "clear-hold"; }
    std::string_view operator()(const Reload&) const { return "reload"; }
    std::string_view operator()(const Events&) const { return "events"; }
    std::string_view operator()(const Routes&) const { return "routes"; }
    std::string_view operator()(const PeerAction&) const { return "peer"; }
  };
  return std::visit(Name{}, cmd);
}

Expected<Command, std::string> parse_request(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return unexpected(std::string("request line longer than 64 KiB"));
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return unexpected(std::string("empty request: send a JSON object such as {\"cmd\":\"status\"}"));
  }
  json req;
  // A key given twice is ambiguous (RFC 8259 4 leaves it to the receiver; the parser would keep
  // the last one, so {"cmd":"status","cmd":"reload"} reloaded): refuse instead of guessing.
  std::vector<std::set<std::string>> keys;  // one set per object being parsed
  std::optional<std::string> duplicate;
  const json::parser_callback_t note_keys = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty() && !duplicate) {
      const auto& k = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(k).second) duplicate = k;
    }
    return true;
  };
  try {
    req = json::parse(line, note_keys);
  } catch (const json::parse_error& e) {
    return unexpected(
        fmt::format("request is not valid JSON at byte {}: {}", e.byte, json_error_detail(e)));
  } catch (const json::exception&) {
    // The parser reports numbers beyond double's range (1e999) as out_of_range, not parse_error.
    return unexpected(std::string("request is not valid JSON: a number is out of range"));
  }
  if (duplicate) return unexpected(fmt::format("request has the key \"{}\" more than once", *duplicate));
  if (!req.is_object()) {
    return unexpected(fmt::format("request must be a JSON object, not {}", req.type_name()));
  }
  auto cmd_it = req.find("cmd");
  if (cmd_it == req.end()) {
    return unexpected(std::string("request has no \"cmd\" field (status, drain, undrain, steer, "
                                  "clear-hold, reload, events, routes, peer)"));
  }
  if (!cmd_it->is_string()) return unexpected(std::string("\"cmd\" must be a string"));
  const auto& cmd = cmd_it->get_ref<const std::string&>();
  if (cmd == "status") return parse_bare<Status>(cmd, req);
  if (cmd == "drain") return parse_drain(req);
  if (cmd == "undrain") return parse_undrain(req);
  if (cmd == "steer") return parse_steer(req);
  if (cmd == "clear-hold") return parse_clear_hold(req);
  if (cmd == "reload") return parse_bare<Reload>(cmd, req);
  if (cmd == "events") return parse_bare<Events>(cmd, req);
  if (cmd == "routes") return parse_routes(req);
  if (cmd == "peer") return parse_peer(req);
  std::array<std::string_view, 9> known = {"status", "drain", "undrain", "steer", "clear-hold", "reload",
                                           "events", "routes", "peer"};
  return unexpected(fmt::format("unknown command {}{} (commands: status, drain, undrain, steer, "
                                "clear-hold, reload, events, routes, peer)",
                                quote_word(cmd), suggestion(cmd, known)));
}

json to_json(const Command& cmd) {
  struct Build {
    json operator()(const Status&) const { return {{"cmd", "status"}}; }
    json operator()(const Drain& d) const {
      json j = target(d.target, "drain");
      if (!d.reason.empty()) j["reason"] = d.reason;
      if (d.wait) j["wait"] = true;
      if (d.settle_ms) j["settle_ms"] = *d.settle_ms;
      return j;
    }
    json operator()(const Undrain& u) const { return target(u.target, "undrain"); }
    json operator()(const Steer& s) const {
      json j = {{"cmd", "steer"}, {"service", s.service}, {"prepend", s.prepend}};
      if (s.med) j["med"] = *s.med;
      return j;
    }
    json operator()(const SteerClear& s) const {
      return {{"cmd", "steer"}, {"service", s.service}, {"clear", true}};
    }
    json operator()(const ClearHold& c) const { return {{"cmd", "clear-hold"}, {"service", c.service}}; }
    json operator()(const Reload&) const { return {{"cmd", "reload"}}; }
    json operator()(const Events&) const { return {{"cmd", "events"}}; }
    json operator()(const Routes& r) const {
      json j = {{"cmd", "routes"}};
      if (!r.peer.empty()) j["peer"] = r.peer;
      return j;
    }
    json operator()(const PeerAction& a) const {
      json j = {{"cmd", "peer"}, {"action", to_string(a.action)}, {"peer", a.peer}};
      if (!a.reason.empty()) j["reason"] = a.reason;
      return j;
    }
    static json target(const Target& t, std::string_view cmd) {
      json j = {{"cmd", cmd}};
      if (t.all) {
        j["all"] = true;
      } else if (!t.unit.empty()) {
        j["unit"] = t.unit;
      } else {
        j["service"] = t.service;
      }
      return j;
    }
  };
  return std::visit(Build{}, cmd);
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  return suggestion(word, candidates);
}

json ok_response(json fields) {
  json j = {{"ok", true}};
  if (fields.is_object()) {
    for (auto& [k, v] : fields.items()) {
      if (k != "ok") j[k] = std::move(v);
    }
  }
  return j;
}

json error_response(std::string_view message) {
  return {{"ok", false}, {"error", std::string(message)}};
}

std::string to_line(const json& j) {
  std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
  s.push_back('\n');
  return s;
}

}  // namespace herald::control
