#include "netlink/libnl_backend.hpp"

#include <fmt/format.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>

// <net/if.h> and <linux/if.h> clash; the one flag needed from either is this one.
#ifndef IFF_UP
#define IFF_UP 0x1
#endif

namespace herald::netlink {

namespace {

struct AddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using AddrPtr = std::unique_ptr<rtnl_addr, AddrPut>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

// libnl folds the kernel's errno into its own NLE_* codes (lib/error.c); undo that for the
// codes whose meaning herald reports, so messages read like the kernel's.
int errno_from_nl(int nl_error) {
  switch (nl_error < 0 ? -nl_error : nl_error) {
    case NLE_PERM:
      return EPERM;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_NODEV:
      return ENODEV;
    case NLE_EXIST:
      return EEXIST;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_INVAL:
      return EINVAL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_RANGE:
      return ERANGE;
    case NLE_NOMEM:
      return ENOBUFS;
    default:
      return 0;
  }
}

Error nl_error(int nl_err, const std::string& what, const std::string& interface) {
  if (int e = errno_from_nl(nl_err); e != 0) return error_from_errno(e, what, interface);
  return Error{ErrorKind::Kernel, 0, fmt::format("{}: {}", what, nl_geterror(nl_err))};
}

bool from_nl_addr(nl_addr* a, int prefix_len, InterfaceAddress& out) {
  if (!a) return false;
  const int family = nl_addr_get_family(a);
  const unsigned len = nl_addr_get_len(a);
  if (family == AF_INET && len == 4) {
    out.family = IpFamily::V4;
  } else if (family == AF_INET6 && len == 16) {
    out.family = IpFamily::V6;
  } else {
    return false;
  }
  out.bytes = {};
  std::memcpy(out.bytes.data(), nl_addr_get_binary_addr(a), len);
  if (prefix_len < 0 || prefix_len > out.max_prefix_len()) return false;
  out.prefix_len = static_cast<std::uint8_t>(prefix_len);
  return true;
}

// An rtnl_addr naming `address` on interface `index` (what add and delete both start from).
Expected<AddrPtr, Error> make_addr(int index, const InterfaceAddress& address,
                                   const std::string& what, const std::string& interface) {
  AddrPtr a(rtnl_addr_alloc());
  NlAddrPtr local(
      nl_addr_build(address.is_v4() ? AF_INET : AF_INET6, address.bytes.data(), address.size()));
  if (!a || !local) return unexpected(error_from_errno(ENOMEM, what, interface));
  nl_addr_set_prefixlen(local.get(), address.prefix_len);
  rtnl_addr_set_ifindex(a.get(), index);
  if (int err = rtnl_addr_set_local(a.get(), local.get()); err < 0) {
    return unexpected(nl_error(err, what, interface));
  }
  rtnl_addr_set_prefixlen(a.get(), address.prefix_len);
  return a;
}

}  // namespace

void LibnlBackend::SockFree::operator()(nl_sock* s) const { nl_socket_free(s); }

Expected<std::unique_ptr<LibnlBackend>, Error> LibnlBackend::open() {
  std::unique_ptr<LibnlBackend> self(new LibnlBackend());
  self->request_.reset(nl_socket_alloc());
  if (!self->request_) return unexpected(error_from_errno(ENOMEM, "opening a netlink socket", ""));
  if (int err = nl_connect(self->request_.get(), NETLINK_ROUTE); err < 0) {
    return unexpected(nl_error(err, "connecting to rtnetlink", ""));
  }
  return self;
}

LibnlBackend::~LibnlBackend() = default;

Expected<LinkState, Error> LibnlBackend::link(const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(request_.get(), 0, name.c_str(), &raw);
  LinkPtr l(raw);
  const std::string what = "looking up interface " + name;
  if (err == -NLE_OBJ_NOTFOUND) return unexpected(error_from_errno(ENODEV, what, name));
  if (err < 0) return unexpected(nl_error(err, what, name));
  return LinkState{name, rtnl_link_get_ifindex(l.get()),
                   (rtnl_link_get_flags(l.get()) & IFF_UP) != 0};
}

Expected<int, Error> LibnlBackend::index_for(const std::string& interface,
                                             const std::string& what) {
  auto l = link(interface);
  if (!l) {
    // Re-word the look-up failure as a failure of the operation the caller asked for.
    if (l.error().kind == ErrorKind::NoSuchInterface) {
      return unexpected(error_from_errno(ENODEV, what, interface));
    }
    return unexpected(l.error());
  }
  return l->index;
}

Status LibnlBackend::create_dummy(const std::string& name) {
  const std::string what = describe_create_dummy(name);
  LinkPtr l(rtnl_link_alloc());
  if (!l) return unexpected(error_from_errno(ENOMEM, what, name));
  rtnl_link_set_name(l.get(), name.c_str());
  if (int err = rtnl_link_set_type(l.get(), "dummy"); err < 0) {
    return unexpected(nl_error(err, what, name));
  }
  if (int err = rtnl_link_add(request_.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0) {
    Error e = nl_error(err, what, name);
    if (e.kind == ErrorKind::Unsupported) e.message += " (the kernel has no dummy driver)";
    return unexpected(e);
  }
  return ok();
}

Status LibnlBackend::delete_link(const std::string& name) {
  const std::string what = "deleting interface " + name;
  LinkPtr l(rtnl_link_alloc());
  if (!l) return unexpected(error_from_errno(ENOMEM, what, name));
  rtnl_link_set_name(l.get(), name.c_str());
  if (int err = rtnl_link_delete(request_.get(), l.get()); err < 0) {
    return unexpected(nl_error(err, what, name));
  }
  return ok();
}

Status LibnlBackend::set_up(const std::string& name) {
  const std::string what = describe_set_up(name);
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(request_.get(), 0, name.c_str(), &raw);
  LinkPtr current(raw);
  if (err == -NLE_OBJ_NOTFOUND) return unexpected(error_from_errno(ENODEV, what, name));
  if (err < 0) return unexpected(nl_error(err, what, name));
  LinkPtr change(rtnl_link_alloc());
  if (!change) return unexpected(error_from_errno(ENOMEM, what, name));
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (err = rtnl_link_change(request_.get(), current.get(), change.get(), 0); err < 0) {
    return unexpected(nl_error(err, what, name));
  }
  return ok();
}

Expected<std::vector<AddressInfo>, Error> LibnlBackend::addresses(const std::string& name) {
  const std::string what = "listing addresses of " + name;
  auto index = index_for(name, what);
  if (!index) return unexpected(index.error());
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(request_.get(), &raw); err < 0) {
    return unexpected(nl_error(err, what, name));
  }
  CachePtr cache(raw);
  std::vector<AddressInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);  // the cache holds only route/addr objects
    if (rtnl_addr_get_ifindex(a) != *index) continue;
    AddressInfo info;
    if (!from_nl_addr(rtnl_addr_get_local(a), rtnl_addr_get_prefixlen(a), info.address)) continue;
    if (const char* label = rtnl_addr_get_label(a); label && info.address.is_v4()) {
      info.label = label;
    }
    info.host_scope = rtnl_addr_get_scope(a) == RT_SCOPE_HOST;
    info.nodad = (rtnl_addr_get_flags(a) & IFA_F_NODAD) != 0;
    out.push_back(std::move(info));
  }
  return out;
}

Status LibnlBackend::add(const AddRequest& request) {
  const std::string what = describe_add(request.address, request.interface);
  auto index = index_for(request.interface, what);
  if (!index) return unexpected(index.error());
  auto a = make_addr(*index, request.address, what, request.interface);
  if (!a) return unexpected(a.error());
  if (request.address.is_v4()) {
    if (request.host_scope) rtnl_addr_set_scope(a->get(), RT_SCOPE_HOST);
    if (!request.label.empty()) {
      if (int err = rtnl_addr_set_label(a->get(), request.label.c_str()); err < 0) {
        return unexpected(nl_error(err, what, request.interface));
      }
    }
  } else if (request.nodad) {
    rtnl_addr_set_flags(a->get(), IFA_F_NODAD);
  }
  // NLM_F_EXCL: an existing address must come back as EEXIST (adopted by the caller), never
  // be silently replaced with our flags.
  if (int err = rtnl_addr_add(request_.get(), a->get(), NLM_F_EXCL); err < 0) {
    return unexpected(nl_error(err, what, request.interface));
  }
  return ok();
}

Status LibnlBackend::remove(const std::string& interface, const InterfaceAddress& address) {
  const std::string what = describe_remove(address, interface);
  auto index = index_for(interface, what);
  if (!index) return unexpected(index.error());
  auto a = make_addr(*index, address, what, interface);
  if (!a) return unexpected(a.error());
  if (int err = rtnl_addr_delete(request_.get(), a->get(), 0); err < 0) {
    return unexpected(nl_error(err, what, interface));
  }
  return ok();
}

Status LibnlBackend::watch() {
  if (watch_) return ok();
  const std::string what = "subscribing to address and link notifications";
  watch_.reset(nl_socket_alloc());
  if (!watch_) return unexpected(error_from_errno(ENOMEM, what, ""));
  nl_sock* s = watch_.get();
  // Notifications are not answers to our requests: their sequence numbers mean nothing.
  nl_socket_disable_seq_check(s);
  nl_socket_modify_cb(s, NL_CB_VALID, NL_CB_CUSTOM, &LibnlBackend::on_message, this);
  if (int err = nl_connect(s, NETLINK_ROUTE); err < 0) {
    watch_.reset();
    return unexpected(nl_error(err, what, ""));
  }
  if (int err =
          nl_socket_add_memberships(s, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0);
      err < 0) {
    watch_.reset();
    return unexpected(nl_error(err, what, ""));
  }
  // A burst (a flapping interface, a big address flush) must not overrun the default buffer;
  // if it still does, drain() says so and the binder re-reads the state.
  nl_socket_set_buffer_size(s, 1 << 20, 0);
  if (int err = nl_socket_set_nonblocking(s); err < 0) {
    watch_.reset();
    return unexpected(nl_error(err, what, ""));
  }
  return ok();
}

int LibnlBackend::watch_fd() const { return watch_ ? nl_socket_get_fd(watch_.get()) : -1; }

int LibnlBackend::on_message(nl_msg* msg, void* self) {
  // nl_msg_parse turns the message into a route/link or route/addr object via libnl's cache
  // ops; anything else (there is nothing else in our groups) is ignored.
  nl_msg_parse(msg, &LibnlBackend::on_object, self);
  return NL_OK;
}

void LibnlBackend::on_object(nl_object* object, void* self_ptr) {
  auto* self = static_cast<LibnlBackend*>(self_ptr);
  const std::string_view type = nl_object_get_type(object);
  const int msgtype = nl_object_get_msgtype(object);
  if (type == "route/link") {
    auto* l = reinterpret_cast<rtnl_link*>(object);
    KernelChange c;
    c.kind =
        msgtype == RTM_DELLINK ? KernelChange::Kind::LinkRemoved : KernelChange::Kind::LinkChanged;
    c.ifindex = rtnl_link_get_ifindex(l);
    const char* name = rtnl_link_get_name(l);
    c.interface = name ? name : "";
    c.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
    self->pending_.push_back(std::move(c));
  } else if (type == "route/addr") {
    auto* a = reinterpret_cast<rtnl_addr*>(object);
    KernelChange c;
    c.kind = msgtype == RTM_DELADDR ? KernelChange::Kind::AddressRemoved
                                    : KernelChange::Kind::AddressAdded;
    c.ifindex = rtnl_addr_get_ifindex(a);
    if (!from_nl_addr(rtnl_addr_get_local(a), rtnl_addr_get_prefixlen(a), c.address)) return;
    self->pending_.push_back(std::move(c));
  }
}

ChangeBatch LibnlBackend::drain() {
  if (watch_) {
    const int fd = nl_socket_get_fd(watch_.get());
    // Bounded: a kernel that keeps talking cannot starve the caller's loop; the descriptor
    // stays readable and the next call continues.
    for (int i = 0; i < 1024; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
      const int err = nl_recvmsgs_default(watch_.get());
      if (err == -NLE_AGAIN || err == 0) continue;
      // ENOBUFS (reported as NLE_NOMEM) means the kernel dropped notifications; any other
      // failure leaves us equally unsure what we missed.
      lost_ = true;
      if (err != -NLE_NOMEM) break;
    }
  }
  ChangeBatch out{std::move(pending_), lost_};
  pending_.clear();
  lost_ = false;
  return out;
}

}  // namespace herald::netlink
