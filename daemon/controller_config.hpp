// Translation of the typed configuration (conf/) into the settings of each component: the BGP
// speaker, the health monitor and the address binders. Pure functions, no I/O, so that what an
// operator wrote and what the components run can be compared in tests.
#pragma once
#include <string>
#include <vector>

#include "bgp/speaker.hpp"
#include "conf/config.hpp"
#include "daemon/log.hpp"
#include "daemon/state_file.hpp"
#include "health/check_spec.hpp"
#include "health/service_core.hpp"
#include "netlink/address_binder.hpp"

namespace herald::daemon {

// With global.dry_run these make the inert speaker of a dry run: no listener, every neighbor
// passive (never connects), without BFD, TCP-MD5 or GTSM; and binder_groups() is empty.
bgp::SpeakerSettings speaker_settings(const conf::Config& config);
bgp::SpeakerPeerConfig speaker_peer(const conf::Config& config, const conf::PeerConfig& peer);
std::vector<bgp::SpeakerPeerConfig> speaker_peers(const conf::Config& config);

// The health spec of a service that has checks. Services without checks are always up and
// have no spec (the monitor never sees them).
health::ServiceSpec health_spec(const conf::ServiceConfig& service);
std::vector<health::ServiceSpec> health_specs(const conf::Config& config);

// A flap hold between the monitor and the state file: the end in UNIX seconds, rounded up so
// that a restored hold never ends before the original one.
PersistentState::FlapHold persisted_flap_hold(const health::FlapHold& hold);
health::FlapHold flap_hold_of(const PersistentState::FlapHold& hold);

// Services that bind addresses, grouped by identical binding settings (one binder, and one
// netlink socket, per group). Each group's key is a readable description for logs.
struct BinderGroup {
  std::string key;  // e.g. "lo label=lo:dns keep"
  netlink::BinderConfig config;
};
std::vector<BinderGroup> binder_groups(const conf::Config& config);

// The logger's options for global.log-level and global.log-format. `stderr_is_journal` is
// log::stderr_is_journal() (systemd connected stderr to the journal): "auto" then sends native
// journal entries with fields, and "text" prefixes each line with its syslog priority.
log::Options log_options(const conf::GlobalConfig& global, bool stderr_is_journal);

}  // namespace herald::daemon
