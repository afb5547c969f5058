// Levenshtein distance, for "did you mean" suggestions: the configuration's unknown keys
// (conf/) and the control protocol's unknown commands (daemon/control_protocol) use the same one.
#pragma once
#include <cstddef>
#include <string_view>

namespace herald {

// The number of single-character insertions, deletions and substitutions that turn a into b.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace herald
