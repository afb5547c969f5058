// The address binders of the daemon: one netlink::AddressBinder per binding group of the
// configuration (controller_config.hpp binder_groups), each watched for address and link
// events, and what they say about each service's addresses (the policy's AddressInput).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/asio.hpp"
#include "conf/config.hpp"
#include "daemon/controller_config.hpp"
#include "daemon/log.hpp"
#include "daemon/service_policy.hpp"
#include "netlink/address_binder.hpp"
#include "netlink/libnl_backend.hpp"

namespace herald::daemon {

// A service's addresses came (ready) or went, and why.
struct ServiceAddressChange {
  std::string service;
  std::string reason;
};

class AddressBinders {
 public:
  // `on_change`: called with the services whose readiness one netlink batch changed (after
  // address() reflects it).
  using OnChange = std::function<void(const std::vector<ServiceAddressChange>&)>;
  AddressBinders(boost::asio::io_context& io, log::Logger& log, OnChange on_change);
  ~AddressBinders();
  AddressBinders(const AddressBinders&) = delete;
  AddressBinders& operator=(const AddressBinders&) = delete;

  // Start and reload: binders whose group is unchanged stay; new ones bind (a failure is
  // logged and makes its services not ready); ones no longer wanted release what they added
  // (when configured to). Readiness of every bound service is read again.
  void bind(const conf::Config& config);
  // Exit: give back what each binder added (keep-on-exit decides).
  void release();
  // A start-up that cannot go on: remove what this process added, whatever keep-on-exit says.
  void undo();
  // Reload: forget what binders said until bind() runs again (every service ready meanwhile).
  void reset_readiness() { addresses_.clear(); }
  // The service's address state; ready when no binder holds it (bind = false).
  AddressInput address(const std::string& service) const;

 private:
  struct Binder;
  void arm(Binder& b);
  void on_readable(Binder& b);

  boost::asio::io_context& io_;
  log::Logger& log_;
  OnChange on_change_;
  std::vector<std::unique_ptr<Binder>> binders_;
  std::map<std::string, AddressInput> addresses_;  // services whose binder reported
};

}  // namespace herald::daemon
