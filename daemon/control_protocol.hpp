// The control protocol between heraldctl (or any operator tool) and the daemon: JSON lines over
// a Unix stream socket. Each request is one JSON object on one line; each reply is one object on
// one line, {"ok":true,...} or {"ok":false,"error":"..."}.
//
// Requests:
//   {"cmd":"status"}
//   {"cmd":"drain","service":"dns","reason":"maintenance"}   or  {"cmd":"drain","all":true,...}
//   {"cmd":"undrain","service":"dns"}                         or  {"cmd":"undrain","all":true}
//   {"cmd":"drain",...,"wait":true,"settle_ms":1000}  reply once withdrawn everywhere + settle
//   {"cmd":"drain","unit":"unbound.service"}  / {"cmd":"undrain","unit":...}: the drain held by
//       a systemd unit, for the services listing it in `units` (apart from the operator's)
//   {"cmd":"steer","service":"dns","prepend":2,"med":100}     (at least one of prepend, med)
//   {"cmd":"steer","service":"dns","clear":true}
//   {"cmd":"clear-hold","service":"dns"}                       end a flap hold now
//   {"cmd":"reload"}
//   {"cmd":"routes"}  or  {"cmd":"routes","peer":"upstream1"}   the Adj-RIB-Out as sent
//   {"cmd":"peer","action":"reset","peer":"upstream1","reason":"..."}   Cease 6/4, reconnect
//   {"cmd":"peer","action":"disable","peer":"upstream1","reason":"..."} Cease 6/2, stays down
//   {"cmd":"peer","action":"enable","peer":"upstream1"}
//   {"cmd":"events"}   subscribe: the connection then also receives one line per state change
//
// This file is pure (no I/O): parse_request() turns a line into a typed Command or a precise
// error text, and to_json() is its inverse (heraldctl builds requests with it). A request that
// fails to parse changes nothing in the daemon.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/expected.hpp"

namespace herald::control {

// Longest request line accepted (bytes, without the newline). Requests are tiny; the bound keeps
// a client from making the daemon buffer without end.
inline constexpr std::size_t kMaxLineBytes = 64 * 1024;
// Most AS_PATH prepends a steering override may ask for: more has no routing effect beyond
// making the path look broken to peers with max-path-length filters.
inline constexpr int kMaxPrepend = 16;
// Where the daemon listens unless configured otherwise.
inline constexpr std::string_view kDefaultSocketPath = "/run/herald/control.sock";

// Which services a drain/undrain applies to: one named service, all of them, or the hold of one
// systemd unit (the services whose `units` list it).
struct Target {
  bool all = false;
  std::string service;  // empty when all or unit
  std::string unit;     // non-empty: the drain held by this unit
  bool operator==(const Target&) const = default;
};

struct Status {
  bool operator==(const Status&) const = default;
};
// Withdraw the target's prefixes on purpose (maintenance) until undrained.
struct Drain {
  Target target;
  std::string reason;  // free text from the operator; may be empty
  // "wait": reply only once the target's prefixes are withdrawn from every peer and the settle
  // time ("settle_ms", else the configured drain-settle) has passed.
  bool wait = false;
  std::optional<std::int64_t> settle_ms;
  bool operator==(const Drain&) const = default;
};
struct Undrain {
  Target target;
  bool operator==(const Undrain&) const = default;
};
// Make a service's announcements less preferred: AS_PATH prepends (RFC 4271 5.1.2) and/or a
// MULTI_EXIT_DISC (RFC 4271 5.1.4). Replaces any previous override of that service.
struct Steer {
  std::string service;
  int prepend = 0;                   // 0..kMaxPrepend extra copies of our AS
  std::optional<std::uint32_t> med;  // nullopt: do not send a MED
  bool operator==(const Steer&) const = default;
};
// Remove a service's steering override.
struct SteerClear {
  std::string service;
  bool operator==(const SteerClear&) const = default;
};
// End a service's flap hold now (the service is held Down for flapping) and forget the
// flapping so far, so that the next hold is the shortest again.
struct ClearHold {
  std::string service;
  bool operator==(const ClearHold&) const = default;
};
// Re-read the configuration file.
struct Reload {
  bool operator==(const Reload&) const = default;
};
// Subscribe this connection to the event stream.
struct Events {
  bool operator==(const Events&) const = default;
};

// The routes announced to every peer (or to one), with their attributes as sent.
struct Routes {
  std::string peer;  // empty: every peer
  bool operator==(const Routes&) const = default;
};
// An operator's action on one BGP session.
enum class PeerActionKind : std::uint8_t {
  Reset,    // Cease/Administrative Reset (RFC 4486 6/4), then reconnect
  Disable,  // Cease/Administrative Shutdown (6/2) with `reason` (RFC 9003); persisted
  Enable,   // undo Disable
};
struct PeerAction {
  PeerActionKind action = PeerActionKind::Reset;
  std::string peer;
  std::string reason;  // reset, disable: the shutdown communication; at most 255 octets sent
  bool operator==(const PeerAction&) const = default;
};
std::string_view to_string(PeerActionKind a) noexcept;  // "reset", "disable", "enable"

using Command = std::variant<Status, Drain, Undrain, Steer, SteerClear, ClearHold, Reload, Events, Routes,
                             PeerAction>;

// The "cmd" word of a command ("status", "drain", ..., "steer" for both steer forms,
// "clear-hold", "routes", "peer").
std::string_view command_name(const Command& cmd) noexcept;

// Parses one request line (without or with its trailing "\n"). Errors are sentences for the
// operator, e.g. "request is not valid JSON at byte 12: ...", "unknown command \"stats\" (did you
// mean \"status\"?)", "steer: prepend must be an integer 0..16", "drain: needs \"service\" or
// \"all\"", "request line longer than 64 KiB".
Expected<Command, std::string> parse_request(std::string_view line);

// The request object for a command; parse_request(to_json(c).dump()) == c.
nlohmann::json to_json(const Command& cmd);

// " (did you mean \"x\"?)" when one of `candidates` starts with `word` or is a few edits from
// it, else "": the one suggestion of commands, fields and names the daemon does not know.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Replies. ok_response merges `fields` (an object) after "ok":true.
nlohmann::json ok_response(nlohmann::json fields = nlohmann::json::object());
nlohmann::json error_response(std::string_view message);

// One protocol line: compact JSON plus "\n". Invalid UTF-8 in strings becomes U+FFFD rather
// than failing, so a reply can always be sent.
std::string to_line(const nlohmann::json& j);

}  // namespace herald::control
