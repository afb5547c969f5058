// The daemon's side of the query counters (docs/metrics.md, "Query counters"; issue #19 item 5),
// with [global] query-counters: herald's nftables table made at start and at each reload, read
// every kReadInterval, deleted at exit. Wiring only: the script, the reading and the rates are
// counters/'s pure functions, the kernel is behind counters::NftBackend.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/asio.hpp"
#include "counters/nft_backend.hpp"
#include "counters/query_counters.hpp"

namespace herald::daemon {

struct CountersLink {
  // Every few seconds: a rate needs two readings, and each reading is one netlink round trip.
  static constexpr std::chrono::seconds kReadInterval{5};

  CountersLink(boost::asio::io_context& io, std::unique_ptr<counters::NftBackend> backend)
      : nft(std::move(backend)), table(*nft), timer(io) {}

  std::unique_ptr<counters::NftBackend> nft;
  counters::QueryCounterTable table;
  counters::Rates rates;
  std::map<std::string, std::uint64_t> packets;  // counter name -> packets, as last read
  std::map<std::string, double> qps;             // service -> rate over the last interval
  bool active = false;                           // installed, and the last reading worked
  boost::asio::steady_timer timer;

  // What the fleet was last given (controller_fleet.cpp publishes it): written again only when
  // worth_publishing() says so, so a site's load does not rewrite its key every reading.
  std::map<std::string, double> published;
  std::optional<std::chrono::steady_clock::time_point> published_at;
};

}  // namespace herald::daemon
