// libFuzzer target: everything the fleet reads from etcd over arbitrary bytes (the gateway's
// replies and watch lines, a floor read's answer and its pages, published site states, member
// records, floor ledger keys, desired drains) must never crash; a site state or member record that parses prints as JSON that parses back to
// the same one, and base64 that decodes encodes back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fleet/drain.hpp"
#include "fleet/etcd_messages.hpp"
#include "fleet/floor.hpp"
#include "fleet/member.hpp"
#include "fleet/site_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::fleet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Keys keys("f");
  (void)parse_range(text);
  if (auto t = parse_txn(text)) {
    // A floor read's answer, whatever etcd sent: the state is consistent, paging ends.
    if (auto st = floor_state_from(keys, "dns", "a", *t)) {
      auto& [index, ledger] = *st;
      if (index.publishing < index.sites.size()) std::abort();
      if (!index.complete && index.next_key.empty()) std::abort();
      const FloorInput in{"a", "dns", true, false, false, false, 0};
      for (const MinSites& min : {MinSites{MinSites::Kind::Count, 2}, MinSites{MinSites::Kind::Percent, 50}}) {
        const FloorDecision d = decide_floor(index, ledger, in, min);
        if (d.verdict == Verdict::Withdraw && d.witnesses.size() != d.floor) std::abort();
        const unsigned more = floor_more_needed(index, ledger, in, min);
        if (more != 0 && (index.complete || d.verdict != Verdict::Hold)) std::abort();
      }
      if (!index.complete) {
        ServiceIndex next = index;
        add_index_page(keys, "dns", next, t->ranges[3]);  // the same page again: no duplicates
        for (std::size_t i = 1; i < next.sites.size(); ++i)
          if (!(next.sites[i - 1].site < next.sites[i].site)) std::abort();
      }
    }
  }
  (void)parse_lease_grant(text);
  (void)parse_lease_keepalive(text);
  (void)parse_token(text);
  (void)parse_watch_message(text);
  (void)error_from_body(500, text);
  (void)desired_drain_from_json(text);
  // A ledger key is read by its name alone: any name under the prefix, any value.
  RangeResult ledger;
  ledger.kvs.push_back(KeyValue{keys.floor_prefix("dns") + std::string(text), std::string(text), 1, 1, 1, 0});
  ledger.kvs.push_back(KeyValue{keys.floors_prefix() + std::string(text), {}, 1, 1, 1, 0});
  const Ledger l = ledger_from_range(keys, "dns", ledger);
  if (valid_name(text) != l.contains(text)) std::abort();  // a site's key counts, whatever its value
  (void)ledger_keys_of(keys, text, ledger);
  if (auto s = site_state_from_json(text)) {
    auto again = site_state_from_json(to_json(*s));
    if (!again || !(*again == *s)) std::abort();
  }
  if (auto m = member_from_json(text)) {
    auto again = member_from_json(to_json(*m));
    if (!again || !(*again == *m)) std::abort();
  }
  if (auto b = base64_decode(text)) {
    if (base64_encode(*b) != text) std::abort();
  }
  return 0;
}
