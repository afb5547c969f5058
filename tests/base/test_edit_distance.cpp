// base/edit_distance.hpp: the metric behind every "did you mean" (config keys, control commands).
#include <doctest/doctest.h>

#include "base/edit_distance.hpp"

using herald::edit_distance;

TEST_CASE("edit distance") {
  CHECK(edit_distance("hold-time", "hold-time") == 0);
  CHECK(edit_distance("hold-tme", "hold-time") == 1);
  CHECK(edit_distance("holdtime", "hold-time") == 1);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}
