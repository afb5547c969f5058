#include "daemon/privileges.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

namespace herald::daemon {

namespace {

// What herald still needs after start-up, in capabilities(7) numbering.
constexpr std::array<unsigned, 2> kKeep = {CAP_NET_ADMIN, CAP_NET_BIND_SERVICE};
constexpr const char* kKeepNames = "CAP_NET_ADMIN, CAP_NET_BIND_SERVICE";

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// capabilities(7), by number (linux/capability.h up to CAP_CHECKPOINT_RESTORE, Linux 5.9).
constexpr std::array<const char*, 41> kCapabilityNames = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",         "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",      "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",   "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",          "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

bool kept(unsigned cap) {
  for (unsigned k : kKeep) {
    if (k == cap) return true;
  }
  return false;
}

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// getpwnam_r with a buffer that grows on ERANGE: distinguishes "no such user" (nullopt value)
// from a failing lookup (NSS unreachable), which must not read as "missing".
Expected<std::optional<Account>, std::string> lookup(const std::string& user) {
  std::vector<char> buf(1024);
  for (;;) {
    passwd pw{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0) return unexpected(fmt::format("cannot look up user {}: {}", user, errno_text(rc)));
    if (found == nullptr) return std::optional<Account>{};
    return std::optional<Account>{Account{pw.pw_name, pw.pw_uid, pw.pw_gid}};
  }
}

// Threads of this process, from /proc/self/task (one entry per thread).
std::size_t thread_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

// capset(2) through the raw system call (no libcap): version 3 takes two 32-bit words per set.
bool set_capabilities(std::uint64_t mask) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto word = static_cast<std::uint32_t>(mask >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = word;  // ambient capabilities must also be inheritable
  }
  return ::syscall(SYS_capset, &header, data.data()) == 0;
}

// The effective (or, with `permitted`, the permitted) set of this thread, through capget(2).
Expected<std::uint64_t, std::string> current_capabilities(bool permitted = false) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0) {
    return unexpected(fmt::format("capget failed: {}", errno_text(errno)));
  }
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    mask |= static_cast<std::uint64_t>(permitted ? data[i].permitted : data[i].effective) << (32 * i);
  }
  return mask;
}

// The warning for going on as root: which capabilities stay (the permitted set: what herald,
// or anything exploiting it, can use) and how to give them up.
PrivilegeReport keeping_root(const std::string& why) {
  auto held = current_capabilities(true);
  const std::string kept = held ? fmt::format("{} capabilities: {}", std::popcount(*held), capability_names(*held))
                                : "capabilities unknown (" + held.error() + ")";
  return {fmt::format("{}: herald keeps uid 0 and {}; set global.user to an unprivileged user to "
                      "keep only {} (exec checks run without capabilities either way)",
                      why, kept, kKeepNames),
          true};
}

}  // namespace

std::string capability_names(std::uint64_t mask) {
  if (mask == 0) return "none";
  std::string out;
  for (unsigned cap = 0; cap < 64; ++cap) {
    if ((mask & (std::uint64_t{1} << cap)) == 0) continue;
    if (!out.empty()) out += ", ";
    out += cap < kCapabilityNames.size() ? std::string(kCapabilityNames[cap]) : fmt::format("capability {}", cap);
  }
  return out;
}

Expected<PrivilegeReport, std::string> drop_privileges(const std::string& user) {
  const uid_t euid = ::geteuid();
  if (euid != 0) {
    return PrivilegeReport{fmt::format("not started as root (uid {}): no privileges to drop", euid)};
  }
  if (user.empty()) return keeping_root("running as root with no user configured (global.user is empty)");

  auto account = lookup(user);
  if (!account) return unexpected(account.error());
  if (!account->has_value()) return unexpected(fmt::format("user {} does not exist", user));
  const Account acct = **account;
  if (acct.uid == 0) return keeping_root(fmt::format("running as root: user {} is uid 0", acct.name));

  if (std::size_t n = thread_count(); n != 1) {
    return unexpected(fmt::format(
        "cannot drop privileges to user {}: {} threads running, capabilities are per thread", user, n));
  }

  std::uint64_t keep_mask = 0;
  for (unsigned cap : kKeep) keep_mask |= std::uint64_t{1} << cap;

  // From here on a failure leaves the process half-dropped: the caller must exit.
  // Bounding set first (it needs CAP_SETPCAP, which goes away with the uid): PR_CAPBSET_READ
  // fails with EINVAL past the kernel's last capability.
  for (unsigned cap = 0; cap < 64; ++cap) {
    int present = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (present < 0) break;
    if (present == 1 && !kept(cap) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      return unexpected(fmt::format("cannot drop capability {} from the bounding set: {}", cap, errno_text(errno)));
    }
  }
  // Keep the permitted set across the uid change (otherwise setuid from 0 clears it).
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return unexpected(fmt::format("prctl(PR_SET_KEEPCAPS) failed: {}", errno_text(errno)));
  }
  // Groups before uids: setting groups needs CAP_SETGID, which the uid change takes away.
  if (::initgroups(acct.name.c_str(), acct.gid) != 0) {
    return unexpected(fmt::format("cannot set the groups of user {}: {}", acct.name, errno_text(errno)));
  }
  if (::setresgid(acct.gid, acct.gid, acct.gid) != 0) {
    return unexpected(fmt::format("cannot switch to gid {}: {}", acct.gid, errno_text(errno)));
  }
  if (::setresuid(acct.uid, acct.uid, acct.uid) != 0) {
    return unexpected(fmt::format("cannot switch to uid {}: {}", acct.uid, errno_text(errno)));
  }
  if (!set_capabilities(keep_mask)) {
    return unexpected(fmt::format("capset({}) failed: {}", kKeepNames, errno_text(errno)));
  }
  // Ambient: kept across an execve of herald itself (as the systemd unit's
  // AmbientCapabilities= does); exec health checks clear it (health/exec_spawn.hpp).
  for (unsigned cap : kKeep) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      return unexpected(fmt::format("cannot raise capability {} as ambient: {}", cap, errno_text(errno)));
    }
  }
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) {
    return unexpected(fmt::format("prctl(PR_SET_KEEPCAPS, 0) failed: {}", errno_text(errno)));
  }

  // Trust, but verify: root must be out of reach and exactly the two capabilities effective.
  if (::setresuid(0, 0, 0) == 0 || ::getuid() != acct.uid || ::geteuid() != acct.uid) {
    return unexpected(std::string("privileges were not dropped: uid 0 is still reachable"));
  }
  auto eff = current_capabilities();
  if (!eff) return unexpected(eff.error());
  if (*eff != keep_mask) {
    return unexpected(fmt::format("effective capabilities are {:#x} after dropping, expected {:#x}", *eff, keep_mask));
  }
  return PrivilegeReport{fmt::format("dropped privileges to user {} (uid {}), keeping {}", acct.name, acct.uid, kKeepNames)};
}

Expected<std::string, std::string> hand_over_directory(const std::filesystem::path& dir, const std::string& user) {
  if (::geteuid() != 0) return fmt::format("not started as root: {} left as it is", dir.string());
  if (user.empty()) return fmt::format("no user configured: {} left as it is", dir.string());
  auto account = lookup(user);
  if (!account) return unexpected(account.error());
  if (!account->has_value()) return unexpected(fmt::format("user {} does not exist", user));
  const Account acct = **account;
  if (::chown(dir.c_str(), acct.uid, acct.gid) != 0) {
    return unexpected(fmt::format("cannot give {} to user {}: {}", dir.string(), acct.name, errno_text(errno)));
  }
  return fmt::format("{} now belongs to user {} (uid {})", dir.string(), acct.name, acct.uid);
}

}  // namespace herald::daemon
