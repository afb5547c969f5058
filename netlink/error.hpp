// Errors of the address binding, as values: what failed, on which address/interface, and why.
#pragma once
#include <string>
#include <variant>

#include "base/expected.hpp"

namespace herald::netlink {

enum class ErrorKind {
  PermissionDenied,  // EPERM/EACCES from the kernel: herald lacks CAP_NET_ADMIN
  NoSuchInterface,   // ENODEV: the named interface does not exist
  AlreadyExists,     // EEXIST: address or interface is already there
  AddressNotFound,   // EADDRNOTAVAIL: removing an address that is not there
  Unsupported,       // EOPNOTSUPP: e.g. the kernel has no dummy driver
  InvalidConfig,     // refused before asking the kernel (e.g. a label on an IPv6 address)
  Kernel,            // anything else the kernel or libnl reported
};

// `message` is complete and meant for a log line or an exit message, e.g.
// "adding 192.0.2.1/32 to lo: Operation not permitted (herald needs CAP_NET_ADMIN)".
struct Error {
  ErrorKind kind = ErrorKind::Kernel;
  int sys_errno = 0;  // the errno behind it, 0 when none
  std::string message;
};

// Success without a value, or an Error.
using Status = Expected<std::monostate, Error>;
inline Status ok() { return std::monostate{}; }

// Builds an Error for the failed operation `what` ("adding 192.0.2.1/32 to lo") from an errno.
// The kind follows from the errno; permission errors name the missing capability, ENODEV
// names `interface`.
Error error_from_errno(int sys_errno, const std::string& what, const std::string& interface);

}  // namespace herald::netlink
