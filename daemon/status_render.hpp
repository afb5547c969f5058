// Human-readable rendering of the daemon's status and event JSON (schemas in
// daemon/status_schema.md), for heraldctl. Pure functions of their input: missing or mistyped
// fields are shown as "-", never an error, so an older heraldctl can talk to a newer daemon.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herald::control {

// The status report: a header line, a PEERS table and a SERVICES table with one indented line
// per check result. Accepts either the whole reply ({"ok":true,"status":{...}}) or the inner
// status object. Ends with a newline.
std::string render_status(const nlohmann::json& status);

// The "routes" reply (daemon/status_schema.md): per peer a line naming it, its address and
// state, then one row per prefix with its attributes as sent (PREFIX, NEXT HOP, AS PATH, ORIGIN,
// MED, LOCAL PREF, COMMUNITIES, LARGE COMMUNITIES, OTC), like `birdc show route export`.
// Absent attributes are "-". Ends with a newline.
std::string render_routes(const nlohmann::json& reply);

// One event line: "TS EVENT subject [old -> new] key=value ...", no newline.
std::string render_event(const nlohmann::json& event);

// Columns padded to the widest cell (counting UTF-8 code points), two spaces apart, headers
// first; the last column is not padded. Each row ends with a newline.
std::string render_table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows);

// "45s", "5m 3s", "2h 10m", "3d 4h": the time between two RFC 3339 UTC timestamps, or "" when
// either does not parse or `to` is before `from`.
std::string age_between(const std::string& from, const std::string& to);

}  // namespace herald::control
