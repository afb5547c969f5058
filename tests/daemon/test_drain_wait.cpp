// DrainWaits: when a "drain --wait" reply is due, with a hand-advanced clock.
#include <doctest/doctest.h>

#include <map>

#include "daemon/drain_wait.hpp"

using namespace std::chrono_literals;
using herald::daemon::DrainWaits;

namespace {

const DrainWaits::Clock::time_point T0{std::chrono::seconds(1000)};

// The policy's view the test changes by hand.
struct World {
  std::map<std::string, DrainWaits::View> services;
  DrainWaits::Lookup lookup() const {
    return [this](const std::string& name) -> std::optional<DrainWaits::View> {
      auto it = services.find(name);
      if (it == services.end()) return std::nullopt;
      return it->second;
    };
  }
};

}  // namespace

TEST_CASE("drain --wait: answered once every service is withdrawn and the settle time has passed") {
  World w;
  w.services["dns"] = {true, true};  // drained, announced with GRACEFUL_SHUTDOWN
  w.services["dot"] = {true, true};
  DrainWaits waits;
  const auto id = waits.add({"dns", "dot"}, 1s, false, T0);
  CHECK(waits.update(w.lookup(), T0).empty());
  CHECK(!waits.next_wakeup());  // nothing timed while the drain-period runs
  w.services["dns"].announced = false;  // dns's drain-period is over
  CHECK(waits.update(w.lookup(), T0 + 30s).empty());
  CHECK(!waits.next_wakeup());  // dot still announced
  w.services["dot"].announced = false;
  CHECK(waits.update(w.lookup(), T0 + 31s).empty());
  REQUIRE(waits.next_wakeup());
  CHECK(*waits.next_wakeup() == T0 + 32s);  // settle from when the last one was withdrawn
  CHECK(waits.update(w.lookup(), T0 + 32s - 1ms).empty());
  auto done = waits.update(w.lookup(), T0 + 32s);
  REQUIRE(done.size() == 1);
  CHECK(done[0].id == id);
  CHECK(done[0].ok);
  CHECK(done[0].message == "withdrawn from every peer after 32000 ms (settle 1000 ms)");
  CHECK(waits.pending() == 0);
  CHECK(!waits.next_wakeup());
}

TEST_CASE("drain --wait: a drain whose period was already over answers at once, without settling") {
  World w;
  w.services["dns"] = {true, false};
  DrainWaits waits;
  waits.add({"dns"}, 5s, true, T0);
  auto done = waits.update(w.lookup(), T0);
  REQUIRE(done.size() == 1);
  CHECK(done[0].ok);
  CHECK(done[0].message == "withdrawn from every peer after 0 ms (settle 0 ms)");
}

TEST_CASE("drain --wait: a drained policy that withdraws at once still waits the settle time") {
  World w;
  w.services["dns"] = {true, false};
  DrainWaits waits;
  waits.add({"dns"}, 2s, false, T0);
  CHECK(waits.update(w.lookup(), T0).empty());
  CHECK(waits.next_wakeup() == T0 + 2s);
  CHECK(waits.update(w.lookup(), T0 + 2s).size() == 1);
}

TEST_CASE("drain --wait: a unit no service lists answers at once") {
  World w;
  DrainWaits waits;
  waits.add({}, 1s, false, T0);
  auto done = waits.update(w.lookup(), T0);
  REQUIRE(done.size() == 1);
  CHECK(done[0].ok);
  CHECK(done[0].message == "no service to wait for");
}

TEST_CASE("drain --wait: undrained or removed while waiting fails the wait, naming the service") {
  World w;
  w.services["dns"] = {true, true};
  DrainWaits waits;
  waits.add({"dns"}, 1s, false, T0);
  waits.add({"gone"}, 1s, false, T0);
  w.services["dns"] = {false, true};  // undrained: Up again
  auto done = waits.update(w.lookup(), T0 + 1s);
  REQUIRE(done.size() == 2);
  CHECK(!done[0].ok);
  CHECK(done[0].message == "service dns is no longer drained");
  CHECK(!done[1].ok);
  CHECK(done[1].message == "service gone was removed by a reload before its prefixes were withdrawn");
}

TEST_CASE("drain --wait: announced again while settling starts the settle time anew; waits are independent") {
  World w;
  w.services["dns"] = {true, false};
  w.services["dot"] = {true, true};
  DrainWaits waits;
  const auto a = waits.add({"dns"}, 1s, false, T0);
  const auto b = waits.add({"dot"}, 1s, false, T0);
  waits.update(w.lookup(), T0);
  w.services["dns"].announced = true;  // e.g. a reload gave it drain-period = false
  CHECK(waits.update(w.lookup(), T0 + 500ms).empty());
  w.services["dns"].announced = false;
  w.services["dot"].announced = false;
  CHECK(waits.update(w.lookup(), T0 + 600ms).empty());
  auto done = waits.update(w.lookup(), T0 + 1600ms);
  REQUIRE(done.size() == 2);
  CHECK(done[0].id == a);
  CHECK(done[1].id == b);
}
