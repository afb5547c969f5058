// Dropping root when herald is started by hand (outside systemd, whose unit starts it as the
// unprivileged user with the two capabilities already granted).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/expected.hpp"

namespace herald::daemon {

// What drop_privileges did, as one sentence for the log. `warning` is set when herald goes on
// with more than it needs (root with every capability it holds: no `user`, or a uid-0 user),
// and the sentence then names those capabilities.
struct PrivilegeReport {
  std::string message;
  bool warning = false;
};

// When the process runs as root (effective uid 0) and `user` is not empty: switches every uid
// and gid to `user`'s (supplementary groups from the group database), keeping only
// CAP_NET_ADMIN (netlink address changes) and CAP_NET_BIND_SERVICE (port 179; the pair the
// systemd unit grants, so herald behaves the same both ways) as permitted, effective,
// inheritable and ambient capabilities, and shrinking the bounding set to the same two, so no
// exec'd program can regain more.
//
// Returns a sentence for the log saying what was done (or that nothing needed doing: not root;
// or, as a warning naming the capabilities kept, `user` empty or uid 0). Returns an error
// sentence when `user` does not exist
// (checked before anything changes, so the caller may still decide to continue as root), when
// more than one thread runs (capabilities are per thread; call it before starting any), or
// when a system call fails midway, in which case the process is in a half-dropped state and
// must exit.
//
// Call it once, after every privileged set-up that needs more than these two capabilities
// (listeners bound, control socket and state directory created, netlink opened).
Expected<PrivilegeReport, std::string> drop_privileges(const std::string& user);

// The names of the capabilities in `mask` (bit n = capability n, capabilities(7) numbering), in
// that order and comma-separated: "CAP_NET_BIND_SERVICE, CAP_NET_ADMIN"; "capability 41" for a
// number this build does not know; "none" for 0.
std::string capability_names(std::uint64_t mask);

// When running as root and `user` is not empty: makes directory `dir` owned by `user` and its
// primary group, so that after drop_privileges herald can still replace files in it (the state
// file is written to a temporary file and renamed, which needs only the directory). Not
// recursive. Returns a sentence for the log, or an error sentence (missing user, chown failed).
// Does nothing (and says so) when not root or `user` is empty.
Expected<std::string, std::string> hand_over_directory(const std::filesystem::path& dir, const std::string& user);

}  // namespace herald::daemon
