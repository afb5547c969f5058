// Event objects for the control socket's "events" stream (schema in daemon/status_schema.md):
// {"ts": RFC 3339 time, "event": kind, ...subject and old/new/reason fields}.
#pragma once
#include <chrono>
#include <string_view>

#include <nlohmann/json.hpp>

namespace herald::control {

// Builds one event. `fields` (an object) supplies the subject ("peer", "service", "prefix") and
// "old", "new", "reason" as applicable; its "ts"/"event" keys, if any, are overridden.
nlohmann::json make_event(std::chrono::system_clock::time_point ts, std::string_view event,
                          nlohmann::json fields = nlohmann::json::object());

}  // namespace herald::control
