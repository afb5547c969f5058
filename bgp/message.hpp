// Typed BGP-4 messages (RFC 4271 section 4) and the error codes of section 4.5.
// These are plain values: the codec (codec.hpp) turns them into bytes and back.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bgp/types.hpp"

namespace herald::bgp {

inline constexpr std::size_t kHeaderSize = 19;
inline constexpr std::size_t kMaxMessageSize = 4096;           // RFC 4271 4.1
inline constexpr std::size_t kMaxExtendedMessageSize = 65535;  // RFC 8654
inline constexpr std::uint16_t kAsTrans = 23456;               // RFC 6793

enum class MessageType : std::uint8_t {
  Open = 1,
  Update = 2,
  Notification = 3,
  Keepalive = 4,
  RouteRefresh = 5,  // RFC 2918
};

// RFC 4271 4.5 error codes and subcodes, with later additions named after their RFC.
enum class ErrorCode : std::uint8_t {
  MessageHeaderError = 1,
  OpenMessageError = 2,
  UpdateMessageError = 3,
  HoldTimerExpired = 4,
  FiniteStateMachineError = 5,
  Cease = 6,
  RouteRefreshMessageError = 7,  // RFC 7313
};
enum class HeaderSubcode : std::uint8_t {
  ConnectionNotSynchronized = 1,
  BadMessageLength = 2,
  BadMessageType = 3,
};
enum class OpenSubcode : std::uint8_t {
  UnsupportedVersionNumber = 1,
  BadPeerAs = 2,
  BadBgpIdentifier = 3,
  UnsupportedOptionalParameter = 4,
  UnacceptableHoldTime = 6,
  UnsupportedCapability = 7,  // RFC 5492
  RoleMismatch = 11,          // RFC 9234
};
enum class UpdateSubcode : std::uint8_t {
  MalformedAttributeList = 1,
  UnrecognizedWellKnownAttribute = 2,
  MissingWellKnownAttribute = 3,
  AttributeFlagsError = 4,
  AttributeLengthError = 5,
  InvalidOriginAttribute = 6,
  InvalidNextHopAttribute = 8,
  OptionalAttributeError = 9,
  InvalidNetworkField = 10,
  MalformedAsPath = 11,
};
enum class FsmSubcode : std::uint8_t {  // RFC 6608
  Unspecified = 0,
  UnexpectedInOpenSent = 1,
  UnexpectedInOpenConfirm = 2,
  UnexpectedInEstablished = 3,
};
enum class CeaseSubcode : std::uint8_t {  // RFC 4486, RFC 8538, RFC 9384
  MaximumPrefixesReached = 1,
  AdministrativeShutdown = 2,
  PeerDeconfigured = 3,
  AdministrativeReset = 4,
  ConnectionRejected = 5,
  OtherConfigurationChange = 6,
  ConnectionCollisionResolution = 7,
  OutOfResources = 8,
  HardReset = 9,
  BfdDown = 10,
};
enum class RouteRefreshSubcode : std::uint8_t { InvalidMessageLength = 1 };

// NOTIFICATION (RFC 4271 4.5). For Cease 2 and 4 the data may carry an RFC 9003 shutdown
// communication (one length octet, then up to 255 octets of UTF-8).
struct Notification {
  std::uint8_t code = 0;
  std::uint8_t subcode = 0;
  Bytes data;

  template <typename Sub>
  static Notification make(ErrorCode c, Sub s, Bytes d = {}) {
    return Notification{static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(s), std::move(d)};
  }
  // Cease 2 (Administrative Shutdown) carrying `text` (truncated to 255 octets on a UTF-8 boundary).
  static Notification shutdown(std::string_view text,
                               CeaseSubcode sub = CeaseSubcode::AdministrativeShutdown);
  // The RFC 9003 text when code/subcode are Cease 2 or 4 and the data is well formed.
  std::optional<std::string> shutdown_communication() const;
  // "Cease/Administrative Shutdown (6/2) \"maintenance\"" or "UPDATE Message Error/... data 0a0b".
  std::string describe() const;
  bool operator==(const Notification&) const = default;
};
std::string_view error_code_name(std::uint8_t code);
std::string_view error_subcode_name(std::uint8_t code, std::uint8_t subcode);

// ---- OPEN and capabilities (RFC 5492) ----
enum class CapabilityCode : std::uint8_t {
  Multiprotocol = 1,          // RFC 4760
  RouteRefresh = 2,           // RFC 2918
  ExtendedMessage = 6,        // RFC 8654
  Role = 9,                   // RFC 9234
  GracefulRestart = 64,       // RFC 4724
  FourOctetAs = 65,           // RFC 6793
  EnhancedRouteRefresh = 70,  // RFC 7313
  Fqdn = 73,                  // draft-walton-bgp-hostname-capability
};
enum class Role : std::uint8_t { Provider = 0, RouteServer = 1, RsClient = 2, Customer = 3, Peer = 4 };
std::string_view to_string(Role r);

struct GracefulRestartCapability {  // parsed, never advertised by herald
  bool restart_state = false;
  bool notification = false;  // RFC 8538 N bit
  std::uint16_t restart_time = 0;
  struct AfFlags {
    Family family;
    bool forwarding_preserved = false;
    bool operator==(const AfFlags&) const = default;
  };
  std::vector<AfFlags> families;
  bool operator==(const GracefulRestartCapability&) const = default;
};
struct FqdnCapability {
  std::string hostname;
  std::string domain;
  bool operator==(const FqdnCapability&) const = default;
};
struct RawCapability {  // unknown capability, kept as bytes
  std::uint8_t code = 0;
  Bytes value;
  bool operator==(const RawCapability&) const = default;
};
struct Capabilities {
  std::vector<Family> multiprotocol;
  bool route_refresh = false;
  bool enhanced_route_refresh = false;
  bool extended_message = false;
  std::optional<std::uint32_t> four_octet_as;
  std::optional<GracefulRestartCapability> graceful_restart;
  std::optional<Role> role;
  std::optional<FqdnCapability> fqdn;
  std::vector<RawCapability> unknown;
  bool operator==(const Capabilities&) const = default;
};
struct RawParameter {  // optional parameter other than Capabilities (type 2)
  std::uint8_t type = 0;
  Bytes value;
  bool operator==(const RawParameter&) const = default;
};
struct Open {
  std::uint8_t version = 4;
  std::uint16_t my_as = 0;  // AS_TRANS when the real AS needs 4 octets
  std::uint16_t hold_time = 0;
  std::uint32_t bgp_id = 0;  // host byte order
  Capabilities caps;
  std::vector<RawParameter> unknown_params;
  // Encoder choice: use the RFC 9072 extended optional parameters length. The decoder sets it
  // when the peer used it. The encoder also switches to it by itself when parameters exceed 255.
  bool extended_params = false;

  // The 4-octet capability's AS when present, else my_as.
  std::uint32_t effective_as() const { return caps.four_octet_as.value_or(my_as); }
  bool operator==(const Open&) const = default;
};

// ---- UPDATE and path attributes (RFC 4271 4.3, 5) ----
enum class AttrType : std::uint8_t {
  Origin = 1,
  AsPath = 2,
  NextHop = 3,
  MultiExitDisc = 4,
  LocalPref = 5,
  AtomicAggregate = 6,
  Aggregator = 7,
  Communities = 8,
  MpReachNlri = 14,
  MpUnreachNlri = 15,
  ExtendedCommunities = 16,
  As4Path = 17,
  As4Aggregator = 18,
  LargeCommunities = 32,
  OnlyToCustomer = 35,  // RFC 9234 5 (OTC)
};
namespace attr_flags {
inline constexpr std::uint8_t kOptional = 0x80;
inline constexpr std::uint8_t kTransitive = 0x40;
inline constexpr std::uint8_t kPartial = 0x20;
inline constexpr std::uint8_t kExtendedLength = 0x10;
}  // namespace attr_flags

enum class Origin : std::uint8_t { Igp = 0, Egp = 1, Incomplete = 2 };
enum class AsSegmentType : std::uint8_t { AsSet = 1, AsSequence = 2, ConfedSequence = 3, ConfedSet = 4 };
struct AsSegment {
  AsSegmentType type = AsSegmentType::AsSequence;
  std::vector<std::uint32_t> asns;
  bool operator==(const AsSegment&) const = default;
};
using AsPath = std::vector<AsSegment>;
struct Aggregator {
  std::uint32_t as = 0;
  IpAddress address;  // IPv4
  bool operator==(const Aggregator&) const = default;
};
struct RawAttribute {  // unrecognized attribute, kept with its flags
  std::uint8_t flags = 0;
  std::uint8_t type = 0;
  Bytes value;
  bool operator==(const RawAttribute&) const = default;
};
struct MpReach {  // RFC 4760
  Family family;
  IpAddress next_hop;                            // global
  std::optional<IpAddress> link_local_next_hop;  // IPv6 only: 32-octet next hop form
  std::vector<Prefix> nlri;
  bool operator==(const MpReach&) const = default;
};
struct MpUnreach {
  Family family;
  std::vector<Prefix> withdrawn;
  bool operator==(const MpUnreach&) const = default;
};
struct PathAttributes {
  std::optional<Origin> origin;
  // After decoding from a 2-octet-AS peer, as_path is the RFC 6793 4.2.3 merge of AS_PATH and
  // AS4_PATH, and aggregator likewise; as4_path / as4_aggregator keep what was received.
  std::optional<AsPath> as_path;
  std::optional<IpAddress> next_hop;  // IPv4 NEXT_HOP attribute
  std::optional<std::uint32_t> med;
  std::optional<std::uint32_t> local_pref;
  bool atomic_aggregate = false;
  std::optional<Aggregator> aggregator;
  std::vector<Community> communities;
  std::vector<ExtendedCommunity> extended_communities;
  std::vector<LargeCommunity> large_communities;
  std::optional<MpReach> mp_reach;
  std::optional<MpUnreach> mp_unreach;
  std::optional<AsPath> as4_path;
  std::optional<Aggregator> as4_aggregator;
  // RFC 9234 5 Only-to-Customer: the AS that marked the route as going only "down" to
  // customers (a route carrying it that comes "up" from a customer has leaked).
  std::optional<std::uint32_t> otc;
  std::vector<RawAttribute> unknown;
  bool operator==(const PathAttributes&) const = default;
};
struct Update {
  std::vector<Prefix> withdrawn;  // IPv4 withdrawn routes
  PathAttributes attrs;
  std::vector<Prefix> nlri;  // IPv4 NLRI
  // End-of-RIB (RFC 4724 2): empty UPDATE for IPv4, a lone empty MP_UNREACH for other families.
  std::optional<Family> end_of_rib() const;
  bool operator==(const Update&) const = default;
};

struct Keepalive {
  bool operator==(const Keepalive&) const = default;
};
enum class RouteRefreshSubtype : std::uint8_t { Normal = 0, BeginOfRibRefresh = 1, EndOfRibRefresh = 2 };
struct RouteRefresh {
  Family family;
  RouteRefreshSubtype subtype = RouteRefreshSubtype::Normal;
  bool operator==(const RouteRefresh&) const = default;
};

using Message = std::variant<Open, Update, Notification, Keepalive, RouteRefresh>;

}  // namespace herald::bgp
