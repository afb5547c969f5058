// herald-speak: runs herald's BGP speaker alone, for interop tests against real routers.
//
//   herald-speak --local-as 65001 --router-id 192.0.2.2 [--listen 0.0.0.0:179]...
//                --peer "name=r1,address=192.0.2.1,as=65000,local=192.0.2.2,hold=9"...
//                --announce "192.0.2.53/32,med=10,communities=65000:1 65000:2,large=65000:1:2,prepend=2"...
//
// Peer keys: name, address, as, port, local, md5, gtsm=0|1, passive=0|1, mode=active|passive|both,
// hold, keepalive, connect_retry (s), idle_hold (s), maxprefix (total), maxprefix4, maxprefix6,
// nexthop4, nexthop6, families=ipv4+ipv6.
// Announce keys after the prefix: med, localpref, origin=igp|egp|incomplete, prepend=N (local AS
// N more times), communities="A:B A:B", large="A:B:C A:B:C".
//
// Commands on stdin, one per line: "announce <spec>" (adds or replaces that prefix),
// "withdraw <prefix>", "announce-block <first prefix> <count>" (count consecutive IPv4 prefixes
// of that length, added at once), "withdraw-all", "status" (one JSON line on stdout), "stop
// <text>" (Cease with the text, then exit 0). Log lines go to stderr, one event per line,
// naming the peer.
// GCC 12 reports -Wnull-dereference false positives inside libstdc++ strings as inlined into
// CLI11 and Asio at -O2; this test driver turns the warning off for the whole file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "base/asio.hpp"
#include "bgp/speaker.hpp"

namespace asio = boost::asio;
using namespace herald::bgp;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "herald-speak: %s\n", msg.c_str());
  std::exit(2);
}

template <typename T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

template <typename T>
T need_number(std::string_view key, std::string_view s) {
  auto v = number<T>(s);
  if (!v) die(fmt::format("{}: not a number: '{}'", key, s));
  return *v;
}

IpAddress need_address(std::string_view key, std::string_view s) {
  auto a = IpAddress::parse(s);
  if (!a) die(fmt::format("{}: not an IP address: '{}'", key, s));
  return *a;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto pos = s.find(sep);
    if (!s.substr(0, pos).empty()) out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

// "key=value,key=value" (a value may contain spaces, never a comma).
std::vector<std::pair<std::string, std::string>> key_values(std::string_view spec) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto item : split(spec, ',')) {
    auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(std::string(item), "");
    } else {
      out.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
  }
  return out;
}

// "192.0.2.1:179", "[2001:db8::1]:179", "0.0.0.0:179", "[::]:1179".
transport::Endpoint parse_endpoint(std::string_view s) {
  std::string_view addr, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find("]:");
    if (close == std::string_view::npos) die(fmt::format("--listen: expected [ADDR]:PORT, got '{}'", s));
    addr = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) die(fmt::format("--listen: expected ADDR:PORT, got '{}'", s));
    addr = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  return transport::Endpoint{need_address("--listen", addr), need_number<std::uint16_t>("--listen", port)};
}

SpeakerPeerConfig parse_peer(std::string_view spec) {
  SpeakerPeerConfig p;
  PeerConfig& b = p.bgp;
  bool have_address = false;
  for (const auto& [k, v] : key_values(spec)) {
    if (k == "name") {
      b.name = v;
    } else if (k == "address") {
      b.peer_address = need_address(k, v);
      have_address = true;
    } else if (k == "as") {
      b.peer_as = need_number<std::uint32_t>(k, v);
    } else if (k == "port") {
      b.port = need_number<std::uint16_t>(k, v);
    } else if (k == "local") {
      b.local_address = need_address(k, v);
    } else if (k == "md5") {
      p.md5 = v;
    } else if (k == "gtsm") {
      p.gtsm = v == "1";
    } else if (k == "passive") {
      if (v == "1") b.mode = ConnectMode::Passive;
    } else if (k == "mode") {
      if (v == "active") b.mode = ConnectMode::Active;
      else if (v == "passive") b.mode = ConnectMode::Passive;
      else if (v == "both") b.mode = ConnectMode::Both;
      else die(fmt::format("mode: expected active|passive|both, got '{}'", v));
    } else if (k == "hold") {
      b.hold_time = need_number<std::uint16_t>(k, v);
    } else if (k == "keepalive") {
      b.keepalive = need_number<std::uint16_t>(k, v);
    } else if (k == "connect_retry") {
      b.connect_retry = std::chrono::milliseconds(static_cast<long>(need_number<double>(k, v) * 1000));
    } else if (k == "idle_hold") {
      b.idle_hold = std::chrono::milliseconds(static_cast<long>(need_number<double>(k, v) * 1000));
    } else if (k == "maxprefix") {
      b.max_prefix.total = need_number<std::uint32_t>(k, v);
    } else if (k == "maxprefix4") {
      b.max_prefix.ipv4 = need_number<std::uint32_t>(k, v);
    } else if (k == "maxprefix6") {
      b.max_prefix.ipv6 = need_number<std::uint32_t>(k, v);
    } else if (k == "nexthop4") {
      b.next_hop_v4 = need_address(k, v);
    } else if (k == "nexthop6") {
      b.next_hop_v6 = need_address(k, v);
    } else if (k == "families") {
      b.families.clear();
      for (auto f : split(v, '+')) {
        if (f == "ipv4") b.families.push_back(kIpv4Unicast);
        else if (f == "ipv6") b.families.push_back(kIpv6Unicast);
        else die(fmt::format("families: expected ipv4+ipv6, got '{}'", f));
      }
    } else {
      die(fmt::format("--peer: unknown key '{}'", k));
    }
  }
  if (!have_address) die(fmt::format("--peer: no address in '{}'", spec));
  if (b.name.empty()) b.name = b.peer_address.to_string();
  return p;
}

std::uint32_t parse_community(std::string_view s) {
  auto parts = split(s, ':');
  if (parts.size() != 2) die(fmt::format("community: expected A:B, got '{}'", s));
  return (std::uint32_t{need_number<std::uint16_t>("community", parts[0])} << 16) |
         need_number<std::uint16_t>("community", parts[1]);
}

LargeCommunity parse_large(std::string_view s) {
  auto parts = split(s, ':');
  if (parts.size() != 3) die(fmt::format("large community: expected A:B:C, got '{}'", s));
  return LargeCommunity{need_number<std::uint32_t>("large", parts[0]), need_number<std::uint32_t>("large", parts[1]),
                        need_number<std::uint32_t>("large", parts[2])};
}

Route parse_route(std::string_view spec, std::uint32_t local_as) {
  auto kvs = key_values(spec);
  if (kvs.empty() || !kvs.front().second.empty()) die(fmt::format("--announce: expected a prefix first in '{}'", spec));
  Route r;
  auto prefix = Prefix::parse(kvs.front().first);
  if (!prefix) die(fmt::format("--announce: not a prefix: '{}'", kvs.front().first));
  r.prefix = *prefix;
  RouteAttributes attrs;
  for (std::size_t i = 1; i < kvs.size(); ++i) {
    const auto& [k, v] = kvs[i];
    if (k == "med") {
      attrs.med = need_number<std::uint32_t>(k, v);
    } else if (k == "localpref") {
      attrs.local_pref = need_number<std::uint32_t>(k, v);
    } else if (k == "origin") {
      if (v == "igp") attrs.origin = Origin::Igp;
      else if (v == "egp") attrs.origin = Origin::Egp;
      else if (v == "incomplete") attrs.origin = Origin::Incomplete;
      else die(fmt::format("origin: expected igp|egp|incomplete, got '{}'", v));
    } else if (k == "prepend") {
      attrs.as_path_prepend.assign(need_number<unsigned>(k, v), local_as);
    } else if (k == "communities") {
      for (auto c : split(v, ' ')) attrs.communities.push_back(parse_community(c));
    } else if (k == "large") {
      for (auto c : split(v, ' ')) attrs.large_communities.push_back(parse_large(c));
    } else {
      die(fmt::format("--announce: unknown key '{}'", k));
    }
  }
  r.attrs = attrs;  // interned: routes with equal attributes share one copy
  return r;
}

const char* message_name(std::size_t i) {
  static const char* names[] = {"", "open", "update", "notification", "keepalive", "route_refresh"};
  return i < 6 ? names[i] : "?";
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

nlohmann::json status_json(const Speaker& speaker) {
  using nlohmann::json;
  json peers = json::array();
  for (const auto& s : speaker.status()) {
    const auto& b = s.bgp;
    json p;
    p["name"] = b.name;
    p["state"] = std::string(to_string(b.state));
    p["last_error"] = b.last_error;
    p["uptime_s"] = b.uptime ? std::chrono::duration<double>(*b.uptime).count() : 0.0;
    if (b.hold_time) p["hold_time"] = *b.hold_time;
    if (b.peer_as) p["peer_as"] = *b.peer_as;
    p["families"] = json::array();
    for (auto f : b.families) p["families"].push_back(to_string(f));
    p["announced"] = json::object();
    for (const auto& [f, n] : b.announced) p["announced"][to_string(f)] = n;
    p["received"] = json::object();
    for (const auto& [f, n] : b.received) p["received"][to_string(f)] = n;
    p["sent"] = json::object();
    p["received_messages"] = json::object();
    for (std::size_t i = 1; i < b.sent.size(); ++i) {
      p["sent"][message_name(i)] = b.sent[i];
      p["received_messages"][message_name(i)] = b.received_messages[i];
    }
    p["notifications_sent"] = json::object();
    for (const auto& [cs, n] : b.notifications_sent) p["notifications_sent"][fmt::format("{}/{}", cs.first, cs.second)] = n;
    p["notifications_received"] = json::object();
    for (const auto& [cs, n] : b.notifications_received)
      p["notifications_received"][fmt::format("{}/{}", cs.first, cs.second)] = n;
    p["md5"] = s.md5;
    p["gtsm"] = s.gtsm;
    p["open_connections"] = s.open_connections;
    p["queued_bytes"] = s.queued_bytes;
    peers.push_back(std::move(p));
  }
  return json{{"peers", peers}, {"routes", speaker.routes().size()}, {"rss_kib", rss_kib()}};
}

// Reads stdin line by line and runs the commands.
class Console {
 public:
  // Commands edit a copy of the speaker's route set and hand it back: the speaker holds the only
  // lasting copy, as in the daemon (a second one here would double the bulk benchmark's RSS).
  Console(asio::io_context& io, Speaker& speaker, std::uint32_t local_as, std::function<void(std::string)> stop)
      : in_(io, ::dup(STDIN_FILENO)), speaker_(speaker), local_as_(local_as), stop_(std::move(stop)) {}
  void start() { read(); }

 private:
  void read() {
    asio::async_read_until(in_, buf_, '\n', [this](const boost::system::error_code& ec, std::size_t) {
      if (ec) return;  // EOF or no stdin: keep running until a signal
      std::istream is(&buf_);
      std::string line;
      std::getline(is, line);
      run(line);
      read();
    });
  }
  void run(const std::string& line) {
    auto sp = line.find(' ');
    std::string cmd = line.substr(0, sp);
    std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (cmd == "announce") {
      Route r = parse_route(arg, local_as_);
      auto routes = speaker_.routes();
      std::erase_if(routes, [&](const Route& x) { return x.prefix == r.prefix; });
      routes.push_back(r);
      speaker_.set_routes(std::move(routes));
    } else if (cmd == "withdraw") {
      auto p = Prefix::parse(arg);
      if (!p) {
        std::fprintf(stderr, "herald-speak: withdraw: not a prefix: '%s'\n", arg.c_str());
        return;
      }
      auto routes = speaker_.routes();
      std::erase_if(routes, [&](const Route& x) { return x.prefix == *p; });
      speaker_.set_routes(std::move(routes));
    } else if (cmd == "announce-block") {
      // "announce-block 198.18.0.0/32 100000": that many consecutive IPv4 prefixes of that
      // length, given to the speaker in one set_routes call (benchmarks of bulk announcements;
      // one "announce" per prefix would recompute the Adj-RIB-Out difference per line).
      auto sp2 = arg.find(' ');
      Route first = parse_route(arg.substr(0, sp2), local_as_);
      auto count = number<std::uint32_t>(sp2 == std::string::npos ? "" : std::string_view(arg).substr(sp2 + 1));
      if (!first.prefix.addr.is_v4() || !count) {
        std::fprintf(stderr, "herald-speak: announce-block: expected an IPv4 prefix and a count: '%s'\n",
                     arg.c_str());
        return;
      }
      const std::uint64_t step = std::uint64_t{1} << (32 - first.prefix.length);
      const std::uint64_t base = first.prefix.addr.v4_host_order();
      if (base + step * *count > (std::uint64_t{1} << 32)) {
        std::fprintf(stderr, "herald-speak: announce-block: the block runs past 255.255.255.255\n");
        return;
      }
      auto routes = speaker_.routes();
      // A prefix already announced is replaced, as "announce" does.
      std::erase_if(routes, [&](const Route& x) {
        if (!x.prefix.addr.is_v4() || x.prefix.length != first.prefix.length) return false;
        const std::uint64_t a = x.prefix.addr.v4_host_order();
        return a >= base && a < base + step * *count;
      });
      routes.reserve(routes.size() + *count);
      for (std::uint32_t i = 0; i < *count; ++i) {
        first.prefix.addr = IpAddress::v4(static_cast<std::uint32_t>(base + step * i));
        routes.push_back(first);
      }
      speaker_.set_routes(std::move(routes));
    } else if (cmd == "withdraw-all") {
      speaker_.set_routes({});
    } else if (cmd == "status") {
      std::string out = status_json(speaker_).dump() + "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    } else if (cmd == "stop") {
      stop_(arg);
    } else if (!cmd.empty()) {
      std::fprintf(stderr, "herald-speak: unknown command '%s'\n", cmd.c_str());
    }
  }

  asio::posix::stream_descriptor in_;
  asio::streambuf buf_;
  Speaker& speaker_;
  std::uint32_t local_as_;
  std::function<void(std::string)> stop_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"herald-speak: herald's BGP speaker alone, for interop tests"};
  std::uint32_t local_as = 0;
  std::string router_id_text;
  std::vector<std::string> listen, peers, announce;
  std::optional<std::uint64_t> seed;
  double stop_limit = 3;
  app.add_option("--local-as", local_as, "local AS number")->required();
  app.add_option("--router-id", router_id_text, "BGP identifier (dotted quad)")->required();
  app.add_option("--listen", listen, "ADDR:PORT or [ADDR]:PORT to accept peers on (repeatable)");
  app.add_option("--peer", peers, "peer spec, see the source (repeatable)");
  app.add_option("--announce", announce, "route spec, see the source (repeatable)");
  app.add_option("--seed", seed, "jitter seed (default: random)");
  app.add_option("--stop-limit", stop_limit, "seconds stop may take");
  CLI11_PARSE(app, argc, argv);

  auto rid = IpAddress::parse(router_id_text);
  if (!rid || !rid->is_v4()) die("--router-id: expected an IPv4 address");

  SpeakerSettings settings;
  settings.local_as = local_as;
  settings.router_id = rid->v4_host_order();
  settings.rng_seed = seed;
  settings.stop_limit = std::chrono::milliseconds(static_cast<long>(stop_limit * 1000));
  for (const auto& l : listen) settings.listen.push_back(parse_endpoint(l));
  std::vector<SpeakerPeerConfig> peer_cfgs;
  for (const auto& p : peers) {
    auto cfg = parse_peer(p);
    cfg.bgp.local_as = local_as;
    cfg.bgp.router_id = settings.router_id;
    if (auto err = cfg.bgp.check()) die(fmt::format("peer {}: {}", cfg.bgp.name, *err));
    peer_cfgs.push_back(std::move(cfg));
  }
  std::vector<Route> routes;
  for (const auto& a : announce) routes.push_back(parse_route(a, local_as));

  asio::io_context io;
  const auto t0 = std::chrono::steady_clock::now();
  SpeakerObserver obs;
  obs.log = [t0](herald::LogLevel level, std::string_view peer, std::string_view text) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string line = peer.empty() ? fmt::format("{:9.3f} {}: {}\n", t, to_string(level), text)
                                    : fmt::format("{:9.3f} {}: peer {}: {}\n", t, to_string(level), peer, text);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
  obs.session = [t0](std::string_view peer, bool up, std::string_view reason) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string line = fmt::format("{:9.3f} info: peer {}: session {}{}{}\n", t, peer, up ? "up" : "down",
                                   reason.empty() ? "" : ": ", reason);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
  Speaker speaker(io, settings, std::move(peer_cfgs), obs);
  speaker.set_routes(std::move(routes));
  for (const auto& e : speaker.start()) std::fprintf(stderr, "herald-speak: start: %s\n", e.c_str());

  bool stopping = false;
  auto stop = [&](std::string reason) {
    if (stopping) return;
    stopping = true;
    speaker.stop(std::move(reason), [&io] { io.stop(); });
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) stop(sig == SIGTERM ? "terminated" : "interrupted");
  });
  Console console(io, speaker, local_as, stop);
  console.start();
  io.run();
  std::fprintf(stderr, "herald-speak: stopped\n");
  return 0;
}
