#include "daemon/status_render.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>

namespace herald::control {

using nlohmann::json;

namespace {

// Cells must stay on one line whatever the daemon sends.
std::string clean(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return s;
}

std::string str(const json& obj, const char* key, std::string fallback = "-") {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    return s.empty() ? fallback : clean(s);
  }
  if (it->is_number_unsigned()) return std::to_string(it->get<std::uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  if (it->is_number_float()) return fmt::format("{}", it->get<double>());
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  return fallback;
}

const json& member(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object()) return null_value;
  auto it = obj.find(key);
  return it == obj.end() ? null_value : *it;
}

std::size_t display_width(const std::string& s) {
  // Count UTF-8 lead bytes: close enough for names and addresses (no wide glyphs expected).
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::optional<std::time_t> parse_time(const std::string& s) {
  int y, mo, d, h, mi, sec;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &tail) < 7) {
    return std::nullopt;
  }
  if (tail != 'Z' && tail != '.') return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return timegm(&tm);
}

// An age if both timestamps parse, else the raw timestamp (or "-").
std::string since_cell(const json& obj, const char* key, const std::string& now) {
  std::string ts = str(obj, key);
  if (ts == "-") return ts;
  std::string age = age_between(ts, now);
  return age.empty() ? ts : age + " ago";
}

std::string overrides_cell(const json& svc, const std::string& now) {
  std::vector<std::string> parts;
  // Announced although its checks fail: say it first (docs/fleet.md, the floor).
  if (str(svc, "floor", "") == "held") parts.push_back("held by fleet floor");
  std::string hold = str(svc, "flap_hold_until", "");
  if (!hold.empty()) {
    // When it ends, and how far that is (heraldctl clear-hold SERVICE ends it now).
    std::string left = age_between(now, hold);
    parts.push_back("flap hold until " + hold + (left.empty() ? "" : " (in " + left + ")"));
  }
  const json& drain = member(svc, "drain");
  if (drain.is_object()) {
    std::string p = member(drain, "all").is_boolean() && drain["all"].get<bool>() ? "drained (all)"
                                                                                  : "drained";
    std::string reason = str(drain, "reason", "");
    if (!reason.empty()) p += ": " + reason;
    // More than one holder (operator, unit:unbound.service, all): each must undrain.
    const json& holders = member(svc, "drain_holders");
    if (holders.is_array() && !holders.empty() &&
        !(holders.size() == 1 && holders[0].is_string() &&
          (holders[0] == "operator" || holders[0] == "all"))) {
      std::string list;
      for (const auto& h : holders)
        if (h.is_string()) list += (list.empty() ? "" : ", ") + h.get<std::string>();
      p += " [held by " + list + "]";
    }
    parts.push_back(p);
  }
  const json& steer = member(svc, "steering");
  if (steer.is_object()) {
    std::string p = "prepend " + str(steer, "prepend", "0");
    std::string med = str(steer, "med", "");
    if (!med.empty()) p += ", med " + med;
    parts.push_back(p);
  }
  if (parts.empty()) return "-";
  std::string out = parts[0];
  for (std::size_t i = 1; i < parts.size(); ++i) out += "; " + parts[i];
  return out;
}

std::string prefixes_cell(const json& svc) {
  const json& p = member(svc, "prefixes");
  if (!p.is_array() || p.empty()) return "-";
  std::string out;
  for (const auto& x : p) {
    if (!x.is_string()) continue;
    if (!out.empty()) out += ' ';
    out += clean(x.get<std::string>());
  }
  if (out.empty()) return "-";
  // Long lists (a prefixes-file) are listed in part; say how many there are in all.
  if (const json& n = member(svc, "prefix_count");
      n.is_number_integer() && n.get<long long>() > static_cast<long long>(p.size()))
    out += fmt::format(" ... ({} in all)", n.get<long long>());
  return out;
}

}  // namespace

std::string age_between(const std::string& from, const std::string& to) {
  auto a = parse_time(from);
  auto b = parse_time(to);
  if (!a || !b || *b < *a) return "";
  long long s = static_cast<long long>(*b - *a);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d {}h", s / 86400, (s % 86400) / 3600);
}

std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = display_width(headers[i]);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], display_width(r[i]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t i = 0; i < headers.size(); ++i) {
      const std::string& c = i < cells.size() ? cells[i] : std::string("-");
      l += c;
      if (i + 1 < headers.size()) l += std::string(width[i] - display_width(c) + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers);
  for (const auto& r : rows) line(r);
  return out;
}

std::string render_status(const json& reply) {
  const json& st = member(reply, "status").is_object() ? member(reply, "status") : reply;
  std::string now = str(st, "now", "");
  std::string out = "herald " + str(st, "version", "?") + "  pid " + str(st, "pid");
  if (member(st, "local_as").is_number()) out += "  AS " + str(st, "local_as");
  if (member(st, "router_id").is_string()) out += "  router-id " + str(st, "router_id");
  std::string up = age_between(str(st, "started", ""), now);
  if (!up.empty()) out += "  up " + up;
  out += "\n";
  const bool dry_run = member(st, "dry_run").is_boolean() && st["dry_run"].get<bool>();
  if (dry_run)
    out += "DRY RUN: nothing is announced. No BGP session is opened, no address is bound, the state "
           "file is not written; WOULD SEND shows what each peer would get.\n";
  const json& all = member(st, "drain_all");
  if (all.is_object()) {
    out += member(all, "fail_safe").is_boolean() && all["fail_safe"].get<bool>()
               ? "ALL SERVICES DRAINED (FAIL-SAFE) since "
               : "ALL SERVICES DRAINED since ";
    out += since_cell(all, "since", now);
    std::string reason = str(all, "reason", "");
    if (!reason.empty()) out += ": " + reason;
    out += "\n";
  }

  out += "\nPEERS\n";
  const json& peers = member(st, "peers");
  if (!peers.is_array() || peers.empty()) {
    out += "(none)\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<std::string>> bfd_rows;
    for (const auto& p : peers) {
      // A disabled peer shows as such, not as a session that failed to come up.
      const std::string peer_state = member(p, "disabled").is_object() ? "disabled" : str(p, "state");
      rows.push_back({str(p, "name"), str(p, "address"), str(p, "remote_as"), peer_state,
                      since_cell(p, "since", now), str(p, "prefixes_sent"),
                      str(p, "prefixes_received"), str(p, "last_error")});
      const json& b = member(p, "bfd");
      if (b.is_object()) {
        auto ms = [&](const char* k) {
          return member(b, k).is_number() ? fmt::format("{:g} ms", b[k].get<double>()) : std::string("-");
        };
        std::string state = str(b, "state");
        if (member(b, "waiting").is_boolean() && b["waiting"].get<bool>()) state += " (BGP waits)";
        bfd_rows.push_back({str(p, "name"), state, str(b, "remote_state"), ms("tx_interval_ms"), ms("detect_time_ms"),
                            str(b, "flaps"), str(b, "local_diag")});
      }
    }
    out += render_table({"NAME", "ADDRESS", "AS", "STATE", "SINCE", "SENT", "RECV", "LAST ERROR"},
                        rows);
    if (!bfd_rows.empty()) {
      out += "\nBFD\n";
      out += render_table({"PEER", "STATE", "REMOTE", "TX", "DETECT", "FLAPS", "DIAG"}, bfd_rows);
    }
  }

  out += "\nSERVICES\n";
  const json& services = member(st, "services");
  std::vector<std::vector<std::string>> checks;
  std::vector<std::vector<std::string>> sends;  // dry run: would_send, one row per route
  if (!services.is_array() || services.empty()) {
    out += "(none)\n";
  } else {
    // The peers a service goes to, in a PEERS column when some service names its own ("all"
    // for a service that goes to every peer).
    std::vector<std::string> all_peers;
    for (const auto& p : member(st, "peers")) all_peers.push_back(str(p, "name"));
    auto peers_cell = [&](const json& s) -> std::string {
      const json& to = member(s, "peers");
      if (!to.is_array()) return "-";
      std::vector<std::string> names;
      for (const auto& n : to) names.push_back(n.is_string() ? clean(n.get<std::string>()) : "-");
      if (names == all_peers) return "all";
      if (names.empty()) return "(none)";
      std::string cell;
      for (const auto& n : names) cell += (cell.empty() ? "" : ",") + n;
      return cell;
    };
    bool restricted = false;
    for (const auto& s : services) restricted = restricted || (member(s, "peers").is_array() && peers_cell(s) != "all");
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : services) {
      rows.push_back({str(s, "name"), str(s, "state"), since_cell(s, "since", now),
                      str(s, "announced"), prefixes_cell(s), overrides_cell(s, now), str(s, "reason")});
      if (restricted) rows.back().insert(rows.back().begin() + 5, peers_cell(s));
      for (const auto& ws : member(s, "would_send")) {
        auto list = [](const json& a) {
          std::string t;
          for (const auto& v : a) t += (t.empty() ? "" : " ") + (v.is_string() ? v.get<std::string>() : v.dump());
          return t.empty() ? std::string("-") : t;
        };
        for (const auto& r : member(ws, "routes"))
          sends.push_back({str(s, "name"), str(ws, "peer"), str(r, "prefix"), str(r, "next_hop"),
                           list(member(r, "as_path")), str(r, "med"), str(r, "local_pref"),
                           list(member(r, "communities")) +
                               (member(r, "large_communities").empty() ? std::string()
                                                                       : " " + list(member(r, "large_communities"))) +
                               (member(r, "extended_communities").empty()
                                    ? std::string()
                                    : " " + list(member(r, "extended_communities")))});
        const std::size_t count = member(ws, "count").is_number() ? ws["count"].get<std::size_t>() : 0;
        if (count > member(ws, "routes").size())
          sends.push_back({str(s, "name"), str(ws, "peer"),
                           fmt::format("... {} more", count - member(ws, "routes").size()), "", "", "", "", ""});
      }
      const json& cs = member(s, "checks");
      if (!cs.is_array()) continue;
      for (const auto& c : cs) {
        std::string result = member(c, "ok").is_boolean() ? (c["ok"].get<bool>() ? "ok" : "FAIL") : "-";
        std::string latency = member(c, "latency_ms").is_number()
                                  ? fmt::format("{:.1f} ms", c["latency_ms"].get<double>())
                                  : "-";
        std::string detail = str(c, "detail");
        // Which server instance answered (RFC 5001), after what the check saw.
        if (member(c, "nsid").is_string())
          detail = (detail == "-" ? "" : detail + " ") + "(NSID " + str(c, "nsid") + ")";
        checks.push_back({str(s, "name"), str(c, "name"), str(c, "kind"), result, latency,
                          since_cell(c, "at", now), detail});
      }
    }
    std::vector<std::string> head{"NAME", "STATE", "SINCE", "ANNOUNCED", "PREFIXES", "OVERRIDES", "REASON"};
    if (restricted) head.insert(head.begin() + 5, "PEERS");
    out += render_table(head, rows);
  }
  if (!checks.empty()) {
    out += "\nCHECKS\n";
    out += render_table({"SERVICE", "CHECK", "KIND", "RESULT", "LATENCY", "AT", "DETAIL"}, checks);
  }
  if (dry_run) {
    out += "\nWOULD SEND (dry run)\n";
    out += sends.empty() ? "(nothing: no service would be announced)\n"
                         : render_table({"SERVICE", "PEER", "PREFIX", "NEXT HOP", "AS PATH", "MED",
                                         "LOCAL PREF", "COMMUNITIES"},
                                        sends);
  }
  return out;
}

namespace {

// "65000 65000 {64512 64513}": AS_SEQUENCE members in order, a set in braces.
std::string as_path_cell(const json& path) {
  if (!path.is_array()) return "-";
  std::string out;
  for (const auto& e : path) {
    if (!out.empty()) out += " ";
    if (e.is_array()) {
      std::string set;
      for (const auto& a : e) set += (set.empty() ? "" : " ") + clean(a.dump());
      out += "{" + set + "}";
    } else {
      out += clean(e.dump());
    }
  }
  return out.empty() ? "(empty)" : out;
}

std::string list_cell(const json& list) {
  if (!list.is_array() || list.empty()) return "-";
  std::string out;
  for (const auto& e : list) out += (out.empty() ? "" : " ") + (e.is_string() ? clean(e.get<std::string>()) : clean(e.dump()));
  return out;
}

}  // namespace

std::string render_routes(const json& reply) {
  std::string out;
  const json& peers = member(reply, "peers");
  if (!peers.is_array() || peers.empty()) return "(no peers)\n";
  // A dry run opens no session: the rows are what herald would send (the status's would_send).
  const bool dry = member(reply, "dry_run").is_boolean() && reply["dry_run"].get<bool>();
  if (dry) out += "DRY RUN: no BGP session is opened; these are the routes herald would send\n\n";
  // The extended communities column only when some route carries one.
  bool any_ext = false;
  for (const auto& p : peers)
    for (const auto& g : member(p, "groups").is_array() ? p["groups"] : json::array())
      any_ext = any_ext || !member(g, "extended_communities").empty();
  bool first = true;
  for (const auto& p : peers) {
    if (!first) out += "\n";
    first = false;
    // A dry run's peer has no session to be in a state of.
    out += fmt::format("PEER {} {} {}", str(p, "name"), str(p, "address"), dry ? "(no session)" : str(p, "state"));
    const json& disabled = member(p, "disabled");
    if (disabled.is_object()) {
      const std::string why = str(disabled, "reason", "");
      out += why.empty() ? " (disabled)" : " (disabled: " + why + ")";
    }
    out += fmt::format(": {} prefixes {}\n", str(p, "prefix_count", "0"), dry ? "would be sent" : "sent");
    std::vector<std::vector<std::string>> rows;
    const json& groups = member(p, "groups");
    std::size_t listed = 0;
    if (groups.is_array()) {
      for (const auto& g : groups) {
        std::string nh = dry && !member(g, "next_hop").is_string() ? "self" : str(g, "next_hop");
        if (member(g, "link_local_next_hop").is_string()) nh += " " + str(g, "link_local_next_hop");
        std::string path = as_path_cell(member(g, "as_path"));
        if (member(g, "as4_path").is_array()) path += " (AS4_PATH " + as_path_cell(g["as4_path"]) + ")";
        const json& prefixes = member(g, "prefixes");
        if (!prefixes.is_array()) continue;
        for (const auto& pf : prefixes) {
          ++listed;
          rows.push_back({pf.is_string() ? clean(pf.get<std::string>()) : "-", nh, path, str(g, "origin"),
                          str(g, "med"), str(g, "local_pref"), list_cell(member(g, "communities")),
                          list_cell(member(g, "large_communities")), str(g, "otc")});
          if (any_ext) rows.back().insert(rows.back().end() - 1, list_cell(member(g, "extended_communities")));
        }
      }
    }
    if (rows.empty()) {
      out += "(nothing announced)\n";
      continue;
    }
    std::vector<std::string> head{"PREFIX", "NEXT HOP", "AS PATH", "ORIGIN", "MED", "LOCAL PREF", "COMMUNITIES",
                                  "LARGE COMMUNITIES", "OTC"};
    if (any_ext) head.insert(head.end() - 1, "EXT COMMUNITIES");
    out += render_table(head, rows);
    if (member(reply, "truncated").is_boolean() && reply["truncated"].get<bool>())
      out += fmt::format("(listed {} of {}: the reply is bounded; see prefix_count)\n", listed, str(p, "prefix_count", "?"));
  }
  return out;
}

std::string render_event(const json& ev) {
  if (!ev.is_object()) return clean(ev.dump(-1, ' ', false, json::error_handler_t::replace));
  std::string out = str(ev, "ts", "-") + " " + str(ev, "event", "event");
  for (const char* subject : {"peer", "service", "prefix"}) {
    if (ev.contains(subject)) out += fmt::format(" {}={}", subject, str(ev, subject));
  }
  bool has_old = ev.contains("old");
  bool has_new = ev.contains("new");
  if (has_old && has_new) {
    out += " " + str(ev, "old") + " -> " + str(ev, "new");
  } else if (has_new) {
    out += " " + str(ev, "new");
  }
  for (const auto& [k, v] : ev.items()) {
    if (k == "ts" || k == "event" || k == "peer" || k == "service" || k == "prefix" ||
        k == "old" || k == "new") {
      continue;
    }
    std::string val = v.is_string() ? clean(v.get<std::string>())
                                    : clean(v.dump(-1, ' ', false, json::error_handler_t::replace));
    if (val.empty() || val.find(' ') != std::string::npos) val = "\"" + val + "\"";
    out += " " + clean(k) + "=" + val;
  }
  return out;
}

}  // namespace herald::control
