// The attributes herald sets on an announcement, and their interned, shared form: routes with
// equal attributes point at one immutable copy, so 100,000 announced prefixes cost one set of
// attributes, not 100,000 (issue #9's bulk RSS target).
#pragma once
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "bgp/message.hpp"
#include "bgp/types.hpp"

namespace herald::bgp {

// The attributes herald sets on an announcement. No NEXT_HOP: the session fills it in (its
// local address or the configured override). The session prepends the local AS on eBGP
// sessions (RFC 4271 5.1.2) and adds LOCAL_PREF on iBGP ones (5.1.5).
struct RouteAttributes {
  Origin origin = Origin::Igp;
  std::vector<std::uint32_t> as_path_prepend;  // extra ASNs after the local AS, in order
  std::optional<std::uint32_t> med;
  std::optional<std::uint32_t> local_pref;  // iBGP only; default 100 there
  std::vector<Community> communities;
  std::vector<LargeCommunity> large_communities;
  std::vector<ExtendedCommunity> extended_communities;  // RFC 4360
  auto operator<=>(const RouteAttributes&) const = default;
  bool operator==(const RouteAttributes&) const = default;
};

// An immutable RouteAttributes shared by every route that has the same value. Constructing one
// from a value looks the value up in a process-wide table (keyed by a canonical encoding of the
// attributes, thread-safe) and shares the copy already there, or adds it; the copy leaves the
// table when its last SharedAttributes goes. Copies are a reference count, never a deep copy.
// Never null: the default is the interned default RouteAttributes.
class SharedAttributes {
 public:
  SharedAttributes();
  // Implicit on purpose: `Route{prefix, attrs}` interns `attrs`.
  SharedAttributes(const RouteAttributes& value);  // NOLINT(google-explicit-constructor)

  const RouteAttributes& operator*() const { return *p_; }
  const RouteAttributes* operator->() const { return p_.get(); }
  const RouteAttributes* get() const { return p_.get(); }

  // Interning makes equal values share one address, so this is a pointer comparison in
  // practice; the value comparison keeps it right whatever the origin of the two.
  friend bool operator==(const SharedAttributes& a, const SharedAttributes& b) {
    return a.p_ == b.p_ || *a.p_ == *b.p_;
  }
  friend auto operator<=>(const SharedAttributes& a, const SharedAttributes& b) {
    return *a.p_ <=> *b.p_;
  }

  // How many distinct attribute sets are interned right now (tests, diagnostics).
  static std::size_t interned_count();

 private:
  std::shared_ptr<const RouteAttributes> p_;
};

}  // namespace herald::bgp
