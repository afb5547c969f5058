// An in-memory AddressBackend that behaves like the kernel where herald relies on it: EEXIST on
// a duplicate address, ENODEV on a missing interface, IPv6 addresses flushed when a link goes
// down, a notification for every change once watch() was called. Tests (and anything that must
// run without CAP_NET_ADMIN) drive it and play "another program" through the external_* calls.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "netlink/address_backend.hpp"

namespace herald::netlink {

class FakeBackend final : public AddressBackend {
 public:
  // Starts with `lo` (index 1, up, 127.0.0.1/8 and ::1/128), like a fresh network namespace.
  FakeBackend();

  Expected<LinkState, Error> link(const std::string& name) override;
  Status create_dummy(const std::string& name) override;
  Status delete_link(const std::string& name) override;
  Status set_up(const std::string& name) override;
  Expected<std::vector<AddressInfo>, Error> addresses(const std::string& name) override;
  Status add(const AddRequest& request) override;
  Status remove(const std::string& interface, const InterfaceAddress& address) override;
  Status watch() override;
  int watch_fd() const override { return -1; }
  ChangeBatch drain() override;

  // --- Knobs: failures the kernel could return. ---
  bool deny_mutations = false;  // every mutation fails with EPERM (no CAP_NET_ADMIN)
  bool dummy_supported = true;  // false: create_dummy fails with EOPNOTSUPP
  int fail_next_add_errno = 0;  // one-shot errno for the next add()

  // --- "Another program" changing the system (queued as notifications). ---
  void external_add_link(const std::string& name, bool up);
  void external_add(const std::string& interface, const InterfaceAddress& address);
  void external_remove(const std::string& interface, const InterfaceAddress& address);
  void external_set_up(const std::string& interface, bool up);
  void external_delete_link(const std::string& name);
  // The kernel dropped notifications (socket overrun): pending ones vanish, drain says `lost`.
  void overflow();

  // --- Inspection. ---
  bool has(const std::string& interface, const InterfaceAddress& address) const;
  const std::vector<AddRequest>& add_requests() const { return add_requests_; }
  int mutation_count() const { return mutations_; }

 private:
  struct Link {
    int index = 0;
    bool up = false;
    std::vector<AddressInfo> addresses;
  };
  Link* find(const std::string& name);
  void notify(KernelChange change);
  void set_up_state(const std::string& name, Link& l, bool up);

  std::map<std::string, Link> links_;
  int next_index_ = 2;
  bool watching_ = false;
  bool lost_ = false;
  std::vector<KernelChange> pending_;
  std::vector<AddRequest> add_requests_;
  int mutations_ = 0;
};

}  // namespace herald::netlink
