// ConnectionTable: admission, eviction and request deadlines with a fake clock (time points
// built from an epoch plus milliseconds; no clock is read).
#include <doctest/doctest.h>

#include <vector>

#include "daemon/connection_table.hpp"

using herald::daemon::ConnectionTable;
using herald::daemon::DropReason;
using State = ConnectionTable::State;
using Ids = std::vector<ConnectionTable::Id>;

namespace {

ConnectionTable::Clock::time_point at(int ms) {
  return ConnectionTable::Clock::time_point{} + std::chrono::milliseconds(ms);
}

ConnectionTable table(std::size_t max, int timeout_ms = 3000) {
  return ConnectionTable({max, std::chrono::milliseconds(timeout_ms)});
}

}  // namespace

TEST_CASE("below the limit every newcomer is admitted and nobody is evicted") {
  auto t = table(3);
  for (ConnectionTable::Id id = 1; id <= 3; ++id) {
    auto a = t.admit(id, "pid 1", at(0));
    CHECK(a.admitted);
    CHECK_FALSE(a.evicted.has_value());
  }
  CHECK(t.size() == 3);
}

TEST_CASE("a full table evicts the connection waiting longest, not the newcomer") {
  auto t = table(3);
  t.admit(1, "pid 1", at(0));
  t.admit(2, "pid 1", at(10));
  t.admit(3, "pid 1", at(20));
  // 1 finished a request at 30 and waits again since then: 2 has now waited longest.
  t.set_state(1, State::waiting, at(30));
  auto a = t.admit(4, "pid 1", at(40));
  CHECK(a.admitted);
  REQUIRE(a.evicted.has_value());
  CHECK(*a.evicted == 2);
  CHECK_FALSE(t.contains(2));
  CHECK(t.contains(4));
  CHECK(t.size() == 3);
}

TEST_CASE("equal waiting times evict the one accepted first") {
  auto t = table(2);
  t.admit(7, "pid 1", at(0));
  t.admit(8, "pid 1", at(0));
  CHECK(t.admit(9, "pid 1", at(0)).evicted == ConnectionTable::Id{7});
}

TEST_CASE("a full table evicts from the client holding the most connections, not the newcomer's") {
  auto t = table(4);
  t.admit(1, "pid 10", at(0));   // the operator's heraldctl, accepted first
  t.admit(2, "pid 66", at(10));  // then a flood from one process
  t.admit(3, "pid 66", at(20));
  t.admit(4, "pid 66", at(30));
  // The flood goes on: each newcomer takes the slot of the flood's own oldest connection, and
  // the operator's connection stays although it waits longest.
  CHECK(t.admit(5, "pid 66", at(40)).evicted == ConnectionTable::Id{2});
  CHECK(t.admit(6, "pid 66", at(50)).evicted == ConnectionTable::Id{3});
  CHECK(t.admit(7, "pid 77", at(60)).evicted == ConnectionTable::Id{4});
  CHECK(t.contains(1));
  CHECK(t.admit(8, "pid 77", at(70)).evicted == ConnectionTable::Id{5});  // pid 66 held 5 and 6
  CHECK(t.admit(9, "pid 88", at(80)).evicted == ConnectionTable::Id{7});  // pid 77 held 7 and 8
  // Every client holds one now: the one waiting longest goes, the operator's at last.
  CHECK(t.admit(10, "pid 88", at(90)).evicted == ConnectionTable::Id{1});
}

TEST_CASE("connections being answered are never evicted; subscribers go before a refusal") {
  auto t = table(2);
  t.admit(1, "pid 1", at(0));
  t.admit(2, "pid 1", at(0));
  t.set_state(1, State::replying, at(1));
  t.set_state(2, State::subscribed, at(2));
  auto a = t.admit(3, "pid 1", at(5));
  CHECK(a.admitted);
  CHECK(a.evicted == ConnectionTable::Id{2});
  // Now 1 replying, 3 waiting: the waiting one goes first.
  t.set_state(1, State::replying, at(6));
  CHECK(t.admit(4, "pid 1", at(7)).evicted == ConnectionTable::Id{3});
  // Both slots replying: the newcomer is refused and the table is unchanged.
  t.set_state(4, State::replying, at(8));
  auto refused = t.admit(5, "pid 1", at(9));
  CHECK_FALSE(refused.admitted);
  CHECK_FALSE(refused.evicted.has_value());
  CHECK(t.size() == 2);
  CHECK_FALSE(t.contains(5));
}

TEST_CASE("a subscriber is evicted only when nobody is waiting, oldest subscriber first") {
  auto t = table(3);
  t.admit(1, "pid 1", at(0));
  t.admit(2, "pid 1", at(0));
  t.admit(3, "pid 1", at(0));
  t.set_state(2, State::subscribed, at(10));
  t.set_state(1, State::subscribed, at(20));
  t.set_state(3, State::waiting, at(30));
  CHECK(t.admit(4, "pid 1", at(40)).evicted == ConnectionTable::Id{3});
  CHECK(t.admit(5, "pid 1", at(50)).evicted == ConnectionTable::Id{4});
  t.set_state(5, State::replying, at(60));
  CHECK(t.admit(6, "pid 1", at(70)).evicted == ConnectionTable::Id{2});
}

TEST_CASE("waiting and replying connections expire after the request timeout; subscribers never") {
  auto t = table(10, 3000);
  t.admit(1, "pid 1", at(0));     // never sends anything
  t.admit(2, "pid 1", at(500));   // will be answered, then wait again
  t.admit(3, "pid 1", at(1000));  // subscribes
  t.admit(4, "pid 1", at(1500));  // sends a request and never reads the reply
  t.set_state(2, State::replying, at(600));
  t.set_state(2, State::waiting, at(700));
  t.set_state(3, State::subscribed, at(1100));
  t.set_state(4, State::replying, at(1600));

  CHECK(t.next_deadline() == at(3000));
  CHECK(t.expired(at(2999)).empty());
  CHECK(t.expired(at(3000)) == Ids{1});
  CHECK(t.next_deadline() == at(3700));
  CHECK(t.expired(at(10000)) == Ids{2, 4});  // oldest deadline first
  CHECK(t.size() == 1);
  CHECK(t.contains(3));
  CHECK_FALSE(t.next_deadline().has_value());
  CHECK(t.expired(at(1000000)).empty());
}

TEST_CASE("every state change restarts the deadline; unknown ids are ignored") {
  auto t = table(4, 100);
  t.admit(1, "pid 1", at(0));
  t.set_state(1, State::replying, at(90));
  t.set_state(1, State::waiting, at(180));
  CHECK(t.expired(at(279)).empty());
  CHECK(t.expired(at(280)) == Ids{1});
  t.set_state(1, State::waiting, at(300));  // gone: no effect
  t.remove(1);
  CHECK(t.size() == 0);
  CHECK_FALSE(t.next_deadline().has_value());
}

TEST_CASE("removed connections free their slot") {
  auto t = table(1);
  t.admit(1, "pid 1", at(0));
  t.set_state(1, State::replying, at(0));
  CHECK_FALSE(t.admit(2, "pid 1", at(1)).admitted);
  t.remove(1);
  auto a = t.admit(3, "pid 1", at(2));
  CHECK(a.admitted);
  CHECK_FALSE(a.evicted.has_value());
}

TEST_CASE("a limit of 0 admits nobody") {
  auto t = table(0);
  auto a = t.admit(1, "pid 1", at(0));
  CHECK_FALSE(a.admitted);
  CHECK_FALSE(a.evicted.has_value());
}

TEST_CASE("drop reasons have the metric's label values") {
  CHECK(to_string(DropReason::evicted) == "evicted");
  CHECK(to_string(DropReason::refused) == "refused");
  CHECK(to_string(DropReason::timed_out) == "timeout");
}

TEST_CASE("drop explanations name the limit that was hit") {
  auto t = table(64, 3000);
  CHECK(t.explain(DropReason::evicted) ==
        "all 64 connections in use: closed the one idle longest to make room for a newcomer");
  CHECK(t.explain(DropReason::refused) == "all 64 connections in use and being answered: newcomer refused");
  CHECK(t.explain(DropReason::timed_out) == "no complete request, or reply not taken, within 3000 ms");
}
