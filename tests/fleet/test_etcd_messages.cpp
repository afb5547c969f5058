#include <doctest/doctest.h>

#include "fleet/etcd_messages.hpp"

using namespace herald::fleet;

TEST_CASE("base64 round-trips every length and binary bytes, and rejects bad text") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_encode("ab") == "YWI=");
  CHECK(base64_encode("abc") == "YWJj");
  std::string bin{'\0', '\xff', '\x10', '\x80'};
  CHECK(base64_decode(base64_encode(bin)).value() == bin);
  CHECK(base64_decode("YWI=").value() == "ab");
  CHECK_FALSE(base64_decode("YWI"));    // length
  CHECK_FALSE(base64_decode("Y=I="));   // padding in the middle
  CHECK_FALSE(base64_decode("YW*j"));   // outside the alphabet
  CHECK_FALSE(base64_decode("Yde="));   // padding bits set (found by fuzz_fleet_json)
  CHECK_FALSE(base64_decode("YR=="));
  CHECK(base64_decode("YQ==").value() == "a");
}

TEST_CASE("prefix_end increments the last byte below 0xff") {
  CHECK(prefix_end("/herald/f/sites/") == "/herald/f/sites0");
  CHECK(prefix_end(std::string("a\xff", 2)) == "b");
  CHECK(prefix_end(std::string("\xff", 1)) == std::string(1, '\0'));
}

TEST_CASE("a txn body carries compares and both branches, numbers as strings") {
  Txn t;
  t.compare.push_back(Compare{"k", "l", Compare::Target::Mod, Compare::Result::Less, 8, {}});
  t.compare.push_back(Compare{"v", {}, Compare::Target::Value, Compare::Result::Equal, 0, "x"});
  t.success.push_back(Op::put("k", "v", 42));
  t.failure.push_back(Op::range("k"));
  t.failure.push_back(Op::del("a", "b"));
  CHECK(txn_body(t) ==
        R"({"compare":[{"key":"aw==","mod_revision":"8","range_end":"bA==","result":"LESS","target":"MOD"},)"
        R"({"key":"dg==","result":"EQUAL","target":"VALUE","value":"eA=="}],)"
        R"("failure":[{"request_range":{"key":"aw=="}},{"request_delete_range":{"key":"YQ==","range_end":"Yg=="}}],)"
        R"("success":[{"request_put":{"key":"aw==","lease":"42","value":"dg=="}}]})");
}

TEST_CASE("a txn answer from etcd 3.4: 'succeeded' is left out when false") {
  // Captured with curl from etcd 3.4.23 (failure branch with one range).
  const char* failed =
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},)"
      R"("responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"YQ==","create_revision":"2",)"
      R"("mod_revision":"2","version":"1","value":"Yg==","lease":"4111120480659412231"}],"count":"1"}}]})";
  auto r = parse_txn(failed);
  REQUIRE(r);
  CHECK_FALSE(r->succeeded);
  CHECK(r->revision == 2);
  REQUIRE(r->ranges.size() == 1);
  REQUIRE(r->ranges[0].kvs.size() == 1);
  CHECK(r->ranges[0].kvs[0].key == "a");
  CHECK(r->ranges[0].kvs[0].value == "b");
  CHECK(r->ranges[0].kvs[0].lease == 4111120480659412231);
  CHECK(parse_txn(R"({"header":{"revision":"3"},"succeeded":true})")->succeeded);
}

TEST_CASE("an error body becomes an EtcdError with the gRPC code") {
  auto e = error_from_body(400, R"({"error":"unexpected EOF","message":"unexpected EOF","code":3})");
  CHECK(e.reason == "unexpected EOF");
  CHECK(e.grpc_code == 3);
  CHECK(error_from_body(502, "<html>").reason == "HTTP 502: <html>");
  auto r = parse_range(R"({"error":"etcdserver: permission denied","code":7,"message":"etcdserver: permission denied"})");
  REQUIRE_FALSE(r);
  CHECK(r.error().grpc_code == 7);
  CHECK_FALSE(parse_range("not json"));
  CHECK_FALSE(parse_range(R"({"kvs":[{"key":"!!!!"}]})"));
}

TEST_CASE("lease answers: grant plain, keepalive wrapped in result") {
  auto g = parse_lease_grant(R"({"header":{"revision":"1"},"ID":"4111120480659412229","TTL":"10"})");
  REQUIRE(g);
  CHECK(g->id == 4111120480659412229);
  CHECK(g->ttl == 10);
  auto k = parse_lease_keepalive(R"({"result":{"header":{"revision":"1"},"ID":"7"}})");
  REQUIRE(k);
  CHECK(k->id == 7);
  CHECK(k->ttl == 0);  // left out: the lease has expired
}

TEST_CASE("watch stream messages: created, then a DELETE event") {
  auto c = parse_watch_message(R"({"result":{"header":{"revision":"2"},"created":true}})");
  REQUIRE(c);
  CHECK(c->created);
  CHECK(c->events.empty());
  auto d = parse_watch_message(
      R"({"result":{"header":{"revision":"3"},"events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"3"}},)"
      R"({"kv":{"key":"Yg==","value":"eA==","mod_revision":"3"}}]}})");
  REQUIRE(d);
  CHECK(d->revision == 3);
  REQUIRE(d->events.size() == 2);
  CHECK(d->events[0].deleted);
  CHECK(d->events[0].kv.key == "a");
  CHECK_FALSE(d->events[1].deleted);  // PUT is the default, left out
  CHECK(d->events[1].kv.value == "x");
}

TEST_CASE("watch and auth request bodies") {
  CHECK(watch_body("a", "b", 5) == R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"5"}})");
  CHECK(authenticate_body("site-a", "pw") == R"({"name":"site-a","password":"pw"})");
  CHECK(parse_token(R"({"header":{},"token":"abc.1"})").value() == "abc.1");
  CHECK_FALSE(parse_token(R"({"header":{}})"));
}

TEST_CASE("a range with a limit, keys only or count only: int64 as a string, booleans, defaults left out") {
  Txn t;
  t.success.push_back(Op::range_count("a", "b"));
  t.success.push_back(Op::range_keys("c", "d"));
  t.success.push_back(Op::range_limit("e", "f", 18));
  t.success.push_back(Op::range("g"));
  CHECK(txn_body(t) ==
        R"({"compare":[],"failure":[],"success":[)"
        R"({"request_range":{"count_only":true,"key":"YQ==","range_end":"Yg=="}},)"
        R"({"request_range":{"key":"Yw==","keys_only":true,"range_end":"ZA=="}},)"
        R"({"request_range":{"key":"ZQ==","limit":"18","range_end":"Zg=="}},)"
        R"({"request_range":{"key":"Zw=="}}]})");
  // A plain range: at a revision, with a limit; the old callers' bodies are unchanged.
  CHECK(range_body("k", "l", 42, 3) == R"({"key":"aw==","limit":"3","range_end":"bA==","revision":"42"})");
  CHECK(range_body("k", "l", 42) == R"({"key":"aw==","range_end":"bA==","revision":"42"})");
  CHECK(range_body("k", {}) == R"({"key":"aw=="})");
}

TEST_CASE("a range answer's count and more: int64 as a string, absent means 0 and false") {
  // etcd 3.4.23, a limit of 1 over two keys: count is all of them, more says one was left.
  const char* limited =
      R"({"header":{"revision":"7"},"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"Yg=="}],"more":true,"count":"2"})";
  auto r = parse_range(limited);
  REQUIRE(r);
  CHECK(r->revision == 7);
  CHECK(r->kvs.size() == 1);
  CHECK(r->count == 2);
  CHECK(r->more);
  // count_only: no kvs, only the count.
  auto c = parse_range(R"({"header":{"revision":"7"},"count":"1000"})");
  REQUIRE(c);
  CHECK(c->kvs.empty());
  CHECK(c->count == 1000);
  CHECK_FALSE(c->more);
  // Nothing in range: the gateway leaves both out.
  auto e = parse_range(R"({"header":{"revision":"7"}})");
  REQUIRE(e);
  CHECK(e->count == 0);
  CHECK_FALSE(e->more);
  // The same inside a txn's response_range.
  auto x = parse_txn(R"({"header":{"revision":"9"},"succeeded":true,"responses":[{"response_range":)"
                     R"({"header":{"revision":"9"},"count":"5"}},{"response_range":{"header":{"revision":"9"},"more":true}}]})");
  REQUIRE(x);
  REQUIRE(x->ranges.size() == 2);
  CHECK(x->ranges[0].count == 5);
  CHECK_FALSE(x->ranges[0].more);
  CHECK(x->ranges[1].more);
  // Malformed: a count that is not a number, a more that is not a boolean.
  CHECK_FALSE(parse_range(R"({"count":"many"})"));
  CHECK_FALSE(parse_range(R"({"more":"yes"})"));
}
