// The etcd v3 API as its JSON gateway speaks it (etcd 3.4): request bodies built and response bodies
// parsed here, with no I/O. Keys and values travel base64-encoded and 64-bit numbers as strings;
// fields equal to their default (false, 0, empty) are left out by the gateway, so every parser
// treats a missing field as its default. Errors are values: a reason naming what was wrong.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"

namespace herald::fleet {

/// Why an etcd call failed: `reason` is for logs; `grpc_code` is the gRPC status the gateway
/// reported (0 when the failure was local: connection, TLS, timeout, malformed reply).
struct EtcdError {
  std::string reason;
  int grpc_code = 0;
};
template <typename T>
using EtcdResult = Expected<T, EtcdError>;
struct Done {};

std::string base64_encode(std::string_view bytes);
/// Fails on characters outside the standard alphabet or a bad length.
Expected<std::string, std::string> base64_decode(std::string_view text);
/// The range_end that makes [prefix, range_end) every key starting with prefix (etcd's rule:
/// increment the last byte below 0xff, dropping trailing 0xff bytes; "\0" means "to the end").
std::string prefix_end(std::string_view prefix);

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
};

struct RangeResult {
  std::int64_t revision = 0;  // the store's revision the read saw
  std::vector<KeyValue> kvs;
  std::int64_t count = 0;  // how many keys the range holds (all of them, whatever the limit)
  bool more = false;       // a limit cut the answer short: there are keys after the last one
};

/// One comparison of a txn. `range_end` empty: the single key; otherwise every key in
/// [key, range_end) must satisfy it (keys that do not exist are not compared).
struct Compare {
  enum class Target { Version, Create, Mod, Value, Lease };
  enum class Result { Equal, Greater, Less, NotEqual };
  std::string key;
  std::string range_end;
  Target target = Target::Mod;
  Result result = Result::Equal;
  std::int64_t number = 0;  // for Version, Create, Mod, Lease
  std::string value;        // for Value
};

/// One operation of a txn's success or failure branch.
struct Op {
  enum class Kind { Range, Put, Delete };
  Kind kind = Kind::Range;
  std::string key;
  std::string range_end;  // Range and Delete: empty means the single key
  std::string value;      // Put
  std::int64_t lease = 0; // Put: 0 means no lease
  // Range only: at most `limit` keys (0: all), in key order; the keys without their values; only
  // the count (RangeResult::count), no keys at all.
  std::int64_t limit = 0;
  bool keys_only = false;
  bool count_only = false;
  static Op range(std::string k, std::string end = {}) { return {Kind::Range, std::move(k), std::move(end), {}, 0}; }
  /// A range of at most `limit` keys (0: all).
  static Op range_limit(std::string k, std::string end, std::int64_t limit) {
    Op op = range(std::move(k), std::move(end));
    op.limit = limit;
    return op;
  }
  /// How many keys [k, end) holds, without reading them.
  static Op range_count(std::string k, std::string end) {
    Op op = range(std::move(k), std::move(end));
    op.count_only = true;
    return op;
  }
  /// The keys of [k, end), without their values.
  static Op range_keys(std::string k, std::string end) {
    Op op = range(std::move(k), std::move(end));
    op.keys_only = true;
    return op;
  }
  static Op put(std::string k, std::string v, std::int64_t lease = 0) { return {Kind::Put, std::move(k), {}, std::move(v), lease}; }
  static Op del(std::string k, std::string end = {}) { return {Kind::Delete, std::move(k), std::move(end), {}, 0}; }
};

struct Txn {
  std::vector<Compare> compare;
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;
  std::vector<RangeResult> ranges;  // the Range ops' answers of the branch that ran, in order
};

struct LeaseGrant {
  std::int64_t id = 0;
  std::int64_t ttl = 0;  // seconds; 0 from a keepalive means the lease is gone
};

struct WatchEvent {
  bool deleted = false;  // PUT otherwise
  KeyValue kv;
};
/// One message of a watch stream.
struct WatchBatch {
  std::int64_t revision = 0;
  bool created = false;
  bool canceled = false;
  std::string cancel_reason;
  std::int64_t compact_revision = 0;  // set when the start revision was compacted away
  std::vector<WatchEvent> events;
};

// Request bodies (JSON text).
/// A range at `revision` (0: the newest) of at most `limit` keys (0: all).
std::string range_body(std::string_view key, std::string_view range_end, std::int64_t revision = 0, std::int64_t limit = 0);
std::string put_body(std::string_view key, std::string_view value, std::int64_t lease);
std::string delete_body(std::string_view key, std::string_view range_end);
std::string txn_body(const Txn& txn);
std::string lease_grant_body(std::int64_t ttl_seconds);
std::string lease_id_body(std::int64_t id);
std::string authenticate_body(std::string_view user, std::string_view password);
std::string watch_body(std::string_view key, std::string_view range_end, std::int64_t start_revision);

// Response bodies. An HTTP error status carries {"error","code","message"}: error_from_body
// turns it (or anything unparsable) into an EtcdError.
EtcdError error_from_body(unsigned http_status, std::string_view body);
EtcdResult<std::int64_t> parse_header_revision(std::string_view body);
EtcdResult<RangeResult> parse_range(std::string_view body);
EtcdResult<TxnResult> parse_txn(std::string_view body);
EtcdResult<LeaseGrant> parse_lease_grant(std::string_view body);
/// A keepalive answer is wrapped in {"result": ...}.
EtcdResult<LeaseGrant> parse_lease_keepalive(std::string_view body);
EtcdResult<std::string> parse_token(std::string_view body);
/// One line of the watch stream: {"result": {...}} or {"error": {...}}.
EtcdResult<WatchBatch> parse_watch_message(std::string_view line);

}  // namespace herald::fleet
