// Whole numbers read from JSON that herald did not just write itself: records another site or an
// operator put into etcd, nft's answer, a state file a person may have edited. nlohmann's
// get<T>() converts a float such as 1e32 with a cast whose result is undefined, and wraps an
// integer that does not fit T, so every such field goes through whole_number (the value if it is
// an integer that fits T, else nothing) or int64_field (the etcd records' reading of it).
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

namespace herald {

/// The value of `v` if it is a JSON integer that T holds; nothing for a float (1e32, 1.5), a
/// string, null, or an integer out of T's range (a negative one for an unsigned T).
template <class T>
std::optional<T> whole_number(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (!std::in_range<T>(u)) return std::nullopt;
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (!std::in_range<T>(i)) return std::nullopt;
    return static_cast<T>(i);
  }
  return std::nullopt;
}

/// `object[key]` as a signed 64-bit number: absent or null is 0, an integer that fits is read,
/// anything else throws (the fleet's callers turn it into "malformed ...").
inline std::int64_t int64_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return 0;
  if (auto n = whole_number<std::int64_t>(*it)) return *n;
  if (it->is_number_integer()) throw std::out_of_range(std::string(key) + " is too large");
  throw std::invalid_argument(std::string(key) + " must be a whole number");
}

}  // namespace herald
