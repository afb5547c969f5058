// system_host(): account lookups against the running system (passwd and group databases).
#include <grp.h>
#include <pwd.h>

#include <fmt/format.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "conf/load.hpp"

namespace herald::conf {
namespace {

// getpwnam_r / getgrnam_r with a buffer that grows on ERANGE. "Not found" is a value (false);
// a failing lookup is an error naming the account.
template <typename Entry, typename Fn>
Expected<bool, std::string> exists(const std::string& name, const char* what, Fn lookup) {
  std::vector<char> buf(1024);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    const int rc = lookup(name.c_str(), &entry, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    // glibc reports "no such entry" as 0 with found == nullptr; some NSS modules use ENOENT.
    if (rc == 0 || rc == ENOENT || rc == ESRCH) return found != nullptr;
    return unexpected(fmt::format("cannot look up {} \"{}\": {}", what, name,
                                  std::error_code(rc, std::generic_category()).message()));
  }
}

}  // namespace

const HostLookup& system_host() {
  static const HostLookup host{
      [](const std::string& name) { return exists<struct passwd>(name, "user", ::getpwnam_r); },
      [](const std::string& name) { return exists<struct group>(name, "group", ::getgrnam_r); },
  };
  return host;
}

}  // namespace herald::conf
