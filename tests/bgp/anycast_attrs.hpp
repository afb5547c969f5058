// The path attributes of a typical anycast announcement, shared by the encoding tests (which
// spell their encoding byte by byte: change them together) and the codec benchmark (which
// measures with them).
#pragma once
#include "bgp/codec.hpp"

namespace herald::bgp::test {

// ORIGIN IGP, AS_PATH [65001], MED 10, COMMUNITIES 65001:53, LARGE_COMMUNITIES 65001:53:1.
inline PathAttributes anycast_attrs() {
  PathAttributes a;
  a.origin = Origin::Igp;
  a.as_path = AsPath{{AsSegmentType::AsSequence, {65001}}};
  a.med = 10;
  a.communities = {(65001u << 16) | 53u};
  a.large_communities = {{65001, 53, 1}};
  return a;
}

}  // namespace herald::bgp::test
