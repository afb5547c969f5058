#include "fleet/etcd_messages.hpp"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace herald::fleet {
namespace {

using json = nlohmann::json;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// 64-bit numbers are strings in the gateway's JSON; tolerate plain numbers too.
std::int64_t number(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) throw std::invalid_argument(std::string(field) + " is not a number");
    return v;
  }
  throw std::invalid_argument(std::string(field) + " is not a number");
}

std::string bytes(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return {};
  auto d = base64_decode(it->get<std::string>());
  if (!d) throw std::invalid_argument(std::string(field) + ": " + d.error());
  return std::move(d.value());
}

KeyValue key_value(const json& j) {
  KeyValue kv;
  kv.key = bytes(j, "key");
  kv.value = bytes(j, "value");
  kv.create_revision = number(j, "create_revision");
  kv.mod_revision = number(j, "mod_revision");
  kv.version = number(j, "version");
  kv.lease = number(j, "lease");
  return kv;
}

std::int64_t header_revision(const json& j) {
  auto it = j.find("header");
  return it == j.end() ? 0 : number(*it, "revision");
}

RangeResult range_result(const json& j) {
  RangeResult r;
  r.revision = header_revision(j);
  if (auto it = j.find("kvs"); it != j.end())
    for (const auto& kv : *it) r.kvs.push_back(key_value(kv));
  r.count = number(j, "count");
  if (auto it = j.find("more"); it != j.end()) r.more = it->get<bool>();
  return r;
}

std::string num(std::int64_t v) { return std::to_string(v); }

// Like the gateway's own encoding (proto3 JSON): int64 as strings, booleans as booleans, fields
// at their default left out.
json range_json(std::string_view key, std::string_view range_end, std::int64_t revision, std::int64_t limit = 0,
                bool keys_only = false, bool count_only = false) {
  json j{{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  if (revision != 0) j["revision"] = num(revision);
  if (limit != 0) j["limit"] = num(limit);
  if (keys_only) j["keys_only"] = true;
  if (count_only) j["count_only"] = true;
  return j;
}
json put_json(std::string_view key, std::string_view value, std::int64_t lease) {
  json j{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (lease != 0) j["lease"] = num(lease);
  return j;
}
json delete_json(std::string_view key, std::string_view range_end) {
  json j{{"key", base64_encode(key)}};
  if (!range_end.empty()) j["range_end"] = base64_encode(range_end);
  return j;
}

json op_json(const Op& op) {
  switch (op.kind) {
    case Op::Kind::Range:
      return json{{"request_range", range_json(op.key, op.range_end, 0, op.limit, op.keys_only, op.count_only)}};
    case Op::Kind::Put: return json{{"request_put", put_json(op.key, op.value, op.lease)}};
    case Op::Kind::Delete: return json{{"request_delete_range", delete_json(op.key, op.range_end)}};
  }
  std::abort();
}

json compare_json(const Compare& c) {
  static constexpr std::array<const char*, 5> kTarget{"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
  static constexpr std::array<const char*, 4> kResult{"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  json j{{"key", base64_encode(c.key)},
         {"target", kTarget[static_cast<std::size_t>(c.target)]},
         {"result", kResult[static_cast<std::size_t>(c.result)]}};
  if (!c.range_end.empty()) j["range_end"] = base64_encode(c.range_end);
  switch (c.target) {
    case Compare::Target::Version: j["version"] = num(c.number); break;
    case Compare::Target::Create: j["create_revision"] = num(c.number); break;
    case Compare::Target::Mod: j["mod_revision"] = num(c.number); break;
    case Compare::Target::Lease: j["lease"] = num(c.number); break;
    case Compare::Target::Value: j["value"] = base64_encode(c.value); break;
  }
  return j;
}

// Parses body with f, turning JSON and shape errors into an EtcdError naming `what`.
template <typename T, typename F>
EtcdResult<T> parse(std::string_view body, const char* what, F f) {
  try {
    json j = json::parse(body);
    if (!j.is_object()) return unexpected(EtcdError{std::string(what) + ": reply is not a JSON object"});
    if (j.contains("error")) return unexpected(error_from_body(200, body));
    return f(j);
  } catch (const std::exception& e) {
    return unexpected(EtcdError{std::string(what) + ": malformed reply: " + e.what()});
  }
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                      static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Expected<std::string, std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return unexpected(std::string("base64 length is not a multiple of 4"));
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
        ++pad;
        v <<= 6;
        continue;
      }
      const int s = sextet(c);
      if (s < 0 || pad > 0) return unexpected(std::string("bad base64 character"));
      v = v << 6 | static_cast<std::uint32_t>(s);
    }
    // Canonical only (RFC 4648 3.5): the bits padding drops must be zero, so that every text
    // decodes from exactly one encoding.
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
      return unexpected(std::string("non-canonical base64 padding bits"));
    out.push_back(static_cast<char>(v >> 16 & 0xff));
    if (pad < 2) out.push_back(static_cast<char>(v >> 8 & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string range_body(std::string_view key, std::string_view range_end, std::int64_t revision, std::int64_t limit) {
  return range_json(key, range_end, revision, limit).dump();
}
std::string put_body(std::string_view key, std::string_view value, std::int64_t lease) {
  return put_json(key, value, lease).dump();
}
std::string delete_body(std::string_view key, std::string_view range_end) {
  return delete_json(key, range_end).dump();
}
std::string txn_body(const Txn& txn) {
  json j{{"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : txn.compare) j["compare"].push_back(compare_json(c));
  for (const auto& op : txn.success) j["success"].push_back(op_json(op));
  for (const auto& op : txn.failure) j["failure"].push_back(op_json(op));
  return j.dump();
}
std::string lease_grant_body(std::int64_t ttl) { return json{{"TTL", num(ttl)}}.dump(); }
std::string lease_id_body(std::int64_t id) { return json{{"ID", num(id)}}.dump(); }
std::string authenticate_body(std::string_view user, std::string_view password) {
  return json{{"name", user}, {"password", password}}.dump();
}
std::string watch_body(std::string_view key, std::string_view range_end, std::int64_t start_revision) {
  json req = range_json(key, range_end, 0);
  if (start_revision != 0) req["start_revision"] = num(start_revision);
  return json{{"create_request", req}}.dump();
}

EtcdError error_from_body(unsigned http_status, std::string_view body) {
  try {
    json j = json::parse(body);
    if (j.is_object()) {
      const json& e = j.contains("error") && j["error"].is_object() ? j["error"] : j;
      std::string msg = e.value("message", e.contains("error") && e["error"].is_string()
                                               ? e["error"].get<std::string>() : std::string());
      if (!msg.empty()) return EtcdError{msg, e.value("code", 0)};
    }
  } catch (const std::exception&) {
  }
  std::string shown(body.substr(0, 200));
  return EtcdError{"HTTP " + std::to_string(http_status) + (shown.empty() ? "" : ": " + shown)};
}

EtcdResult<std::int64_t> parse_header_revision(std::string_view body) {
  return parse<std::int64_t>(body, "etcd", [](const json& j) { return header_revision(j); });
}
EtcdResult<RangeResult> parse_range(std::string_view body) {
  return parse<RangeResult>(body, "range", [](const json& j) { return range_result(j); });
}
EtcdResult<TxnResult> parse_txn(std::string_view body) {
  return parse<TxnResult>(body, "txn", [](const json& j) {
    TxnResult r;
    r.succeeded = j.value("succeeded", false);
    r.revision = header_revision(j);
    if (auto it = j.find("responses"); it != j.end())
      for (const auto& resp : *it)
        if (auto rr = resp.find("response_range"); rr != resp.end()) r.ranges.push_back(range_result(*rr));
    return r;
  });
}
EtcdResult<LeaseGrant> parse_lease_grant(std::string_view body) {
  return parse<LeaseGrant>(body, "lease grant", [](const json& j) {
    return LeaseGrant{number(j, "ID"), number(j, "TTL")};
  });
}
EtcdResult<LeaseGrant> parse_lease_keepalive(std::string_view body) {
  return parse<LeaseGrant>(body, "lease keepalive", [](const json& j) {
    const json& r = j.contains("result") ? j.at("result") : j;
    return LeaseGrant{number(r, "ID"), number(r, "TTL")};
  });
}
EtcdResult<std::string> parse_token(std::string_view body) {
  return parse<std::string>(body, "authenticate", [](const json& j) -> EtcdResult<std::string> {
    std::string t = j.value("token", "");
    if (t.empty()) return unexpected(EtcdError{"authenticate: no token in the reply"});
    return t;
  });
}
EtcdResult<WatchBatch> parse_watch_message(std::string_view line) {
  return parse<WatchBatch>(line, "watch", [](const json& j) -> EtcdResult<WatchBatch> {
    auto it = j.find("result");
    if (it == j.end()) return unexpected(EtcdError{"watch: message has no result"});
    const json& r = *it;
    WatchBatch b;
    b.revision = header_revision(r);
    b.created = r.value("created", false);
    b.canceled = r.value("canceled", false);
    b.cancel_reason = r.value("cancel_reason", "");
    b.compact_revision = number(r, "compact_revision");
    if (auto ev = r.find("events"); ev != r.end())
      for (const auto& e : *ev) b.events.push_back(WatchEvent{e.value("type", "PUT") == "DELETE", key_value(e.at("kv"))});
    return b;
  });
}

}  // namespace herald::fleet
