// The narrow interface between the address binding logic and the kernel. Everything that needs
// CAP_NET_ADMIN goes through here, so the logic above it (AddressBinder) runs unprivileged
// against FakeBackend in tests, and LibnlBackend is the only code that talks rtnetlink.
#pragma once
#include <string>
#include <vector>

#include "netlink/error.hpp"
#include "netlink/interface_address.hpp"

namespace herald::netlink {

// One interface as the kernel reports it. `up` is the administrative flag IFF_UP: lo and dummy
// interfaces have no carrier of their own, so IFF_UP is what "the interface is down" means.
struct LinkState {
  std::string name;
  int index = 0;
  bool up = false;
};

// One address as the kernel reports it on an interface.
struct AddressInfo {
  InterfaceAddress address;
  std::string label;  // IPv4 only (IFA_LABEL); empty for IPv6
  bool host_scope = false;
  bool nodad = false;  // IFA_F_NODAD
};

// What to add. `label` must be empty for IPv6 (the kernel has no IPv6 labels).
struct AddRequest {
  std::string interface;
  InterfaceAddress address;
  std::string label;
  bool host_scope = false;  // RT_SCOPE_HOST; the kernel derives IPv6 scope itself
  bool nodad = true;        // IFA_F_NODAD for IPv6: usable at once, no tentative phase
};

// One notification from the kernel (RTM_NEWADDR/DELADDR/NEWLINK/DELLINK), already decoded.
struct KernelChange {
  enum class Kind { AddressAdded, AddressRemoved, LinkChanged, LinkRemoved };
  Kind kind = Kind::LinkChanged;
  int ifindex = 0;
  std::string interface;     // set for link changes; address changes carry only ifindex
  InterfaceAddress address;  // address changes only
  bool up = false;           // link changes only: IFF_UP
};

// What a drain returned. `lost` means the kernel dropped notifications (ENOBUFS on the
// socket): the caller must re-read the state it cares about instead of trusting the stream.
struct ChangeBatch {
  std::vector<KernelChange> changes;
  bool lost = false;
};

// Contract of every implementation: mutations return ok() or an Error whose message names the
// operation, the address and the interface; no call blocks longer than one kernel round trip;
// drain() never blocks.
class AddressBackend {
 public:
  virtual ~AddressBackend() = default;

  // State of interface `name`; NoSuchInterface when it does not exist.
  virtual Expected<LinkState, Error> link(const std::string& name) = 0;
  // Creates a dummy interface `name` (left down); AlreadyExists if a link of that name exists.
  virtual Status create_dummy(const std::string& name) = 0;
  // Deletes interface `name`.
  virtual Status delete_link(const std::string& name) = 0;
  // Sets IFF_UP on `name`.
  virtual Status set_up(const std::string& name) = 0;
  // All addresses on `name`, both families.
  virtual Expected<std::vector<AddressInfo>, Error> addresses(const std::string& name) = 0;
  // Adds an address; AlreadyExists when the kernel already has it (never replaces it).
  virtual Status add(const AddRequest& request) = 0;
  // Removes an address; AddressNotFound when it is not there.
  virtual Status remove(const std::string& interface, const InterfaceAddress& address) = 0;

  // Subscribes to link and address notifications (RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
  // RTNLGRP_IPV6_IFADDR). Call before reading state so no change falls between the two.
  virtual Status watch() = 0;
  // A descriptor that becomes readable when drain() has something; -1 if there is none
  // (then the owner polls drain() on its own schedule).
  virtual int watch_fd() const = 0;
  // Everything pending, in kernel order; empty when nothing is.
  virtual ChangeBatch drain() = 0;
};

}  // namespace herald::netlink

namespace herald::netlink {

// The operation names every backend puts in front of its errors, so that messages read the
// same whichever backend produced them.
std::string describe_add(const InterfaceAddress& address, const std::string& interface);
std::string describe_remove(const InterfaceAddress& address, const std::string& interface);
std::string describe_create_dummy(const std::string& interface);
std::string describe_set_up(const std::string& interface);

}  // namespace herald::netlink
