#include "netlink/address_backend.hpp"

#include <fmt/format.h>

namespace herald::netlink {

std::string describe_add(const InterfaceAddress& address, const std::string& interface) {
  return fmt::format("adding {} to {}", address.to_string(), interface);
}
std::string describe_remove(const InterfaceAddress& address, const std::string& interface) {
  return fmt::format("removing {} from {}", address.to_string(), interface);
}
std::string describe_create_dummy(const std::string& interface) {
  return fmt::format("creating dummy interface {}", interface);
}
std::string describe_set_up(const std::string& interface) {
  return fmt::format("bringing interface {} up", interface);
}

}  // namespace herald::netlink
