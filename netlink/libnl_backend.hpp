// The AddressBackend that talks rtnetlink through libnl-route. The only code in herald that
// needs CAP_NET_ADMIN (for add/remove/create/set-up; reading and watching need none).
//
// Two sockets: a blocking request socket (one acknowledged round trip per call) and, after
// watch(), a non-blocking socket subscribed to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and
// RTNLGRP_IPV6_IFADDR whose descriptor the owner waits on. No Asio here.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "netlink/address_backend.hpp"

struct nl_sock;
struct nl_msg;
struct nl_object;

namespace herald::netlink {

class LibnlBackend final : public AddressBackend {
 public:
  // Connects to NETLINK_ROUTE in the caller's network namespace. Fails only when the kernel
  // refuses a netlink socket.
  static Expected<std::unique_ptr<LibnlBackend>, Error> open();
  ~LibnlBackend() override;
  LibnlBackend(const LibnlBackend&) = delete;
  LibnlBackend& operator=(const LibnlBackend&) = delete;

  Expected<LinkState, Error> link(const std::string& name) override;
  Status create_dummy(const std::string& name) override;
  Status delete_link(const std::string& name) override;
  Status set_up(const std::string& name) override;
  Expected<std::vector<AddressInfo>, Error> addresses(const std::string& name) override;
  Status add(const AddRequest& request) override;
  Status remove(const std::string& interface, const InterfaceAddress& address) override;
  Status watch() override;
  int watch_fd() const override;
  ChangeBatch drain() override;

 private:
  LibnlBackend() = default;
  static int on_message(nl_msg* msg, void* self);
  static void on_object(nl_object* object, void* self);
  Expected<int, Error> index_for(const std::string& interface, const std::string& what);

  struct SockFree {
    void operator()(nl_sock* s) const;
  };
  std::unique_ptr<nl_sock, SockFree> request_;
  std::unique_ptr<nl_sock, SockFree> watch_;
  std::vector<KernelChange> pending_;
  bool lost_ = false;
};

}  // namespace herald::netlink
