// Whole numbers read from JSON that another site or an operator wrote into etcd. nlohmann's
// value<std::int64_t>() converts a float such as 1e32 with a cast whose result is undefined, so
// every such field goes through int64_field: absent or null is 0, an integer that fits is read,
// anything else throws (the callers turn it into "malformed ...").
#pragma once
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace herald::fleet {

inline std::int64_t int64_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_unsigned()) {
    if (it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw std::out_of_range(std::string(key) + " is too large");
    return static_cast<std::int64_t>(it->get<std::uint64_t>());
  }
  if (!it->is_number_integer()) throw std::invalid_argument(std::string(key) + " must be a whole number");
  return it->get<std::int64_t>();
}

}  // namespace herald::fleet
