#include "daemon/events.hpp"

#include <string>

#include "daemon/log.hpp"

namespace herald::control {

nlohmann::json make_event(std::chrono::system_clock::time_point ts, std::string_view event,
                          nlohmann::json fields) {
  nlohmann::json j = fields.is_object() ? std::move(fields) : nlohmann::json::object();
  j["ts"] = log::format_timestamp(ts);
  j["event"] = std::string(event);
  return j;
}

}  // namespace herald::control
