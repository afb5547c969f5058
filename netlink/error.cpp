#include "netlink/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace herald::netlink {

Error error_from_errno(int sys_errno, const std::string& what, const std::string& interface) {
  const char* text = std::strerror(sys_errno);
  switch (sys_errno) {
    case EPERM:
    case EACCES:
      // Every RTM_NEWADDR/DELADDR/NEWLINK/SETLINK needs CAP_NET_ADMIN in the netns' user ns.
      return {ErrorKind::PermissionDenied, sys_errno,
              fmt::format("{}: {} (herald needs CAP_NET_ADMIN)", what, text)};
    case ENODEV:
      return {ErrorKind::NoSuchInterface, sys_errno,
              fmt::format("{}: interface {} does not exist", what, interface)};
    case EEXIST:
      return {ErrorKind::AlreadyExists, sys_errno, fmt::format("{}: {}", what, text)};
    case EADDRNOTAVAIL:
      return {ErrorKind::AddressNotFound, sys_errno, fmt::format("{}: {}", what, text)};
    case EOPNOTSUPP:
      return {ErrorKind::Unsupported, sys_errno, fmt::format("{}: {}", what, text)};
    default:
      return {ErrorKind::Kernel, sys_errno, fmt::format("{}: {}", what, text)};
  }
}

}  // namespace herald::netlink
