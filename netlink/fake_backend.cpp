#include "netlink/fake_backend.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

namespace herald::netlink {

namespace {
InterfaceAddress must_parse(const char* text) {
  auto a = InterfaceAddress::parse(text);
  if (!a) std::abort();  // a constant below is wrong
  return *a;
}
}  // namespace

FakeBackend::FakeBackend() {
  Link lo;
  lo.index = 1;
  lo.up = true;
  lo.addresses.push_back({must_parse("127.0.0.1/8"), "lo", true, false});
  lo.addresses.push_back({must_parse("::1/128"), "", true, false});
  links_["lo"] = lo;
}

FakeBackend::Link* FakeBackend::find(const std::string& name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

void FakeBackend::notify(KernelChange change) {
  if (watching_) pending_.push_back(std::move(change));
}

Expected<LinkState, Error> FakeBackend::link(const std::string& name) {
  Link* l = find(name);
  if (!l) return unexpected(error_from_errno(ENODEV, "looking up interface " + name, name));
  return LinkState{name, l->index, l->up};
}

Status FakeBackend::create_dummy(const std::string& name) {
  ++mutations_;
  const std::string what = describe_create_dummy(name);
  if (deny_mutations) return unexpected(error_from_errno(EPERM, what, name));
  if (!dummy_supported) return unexpected(error_from_errno(EOPNOTSUPP, what, name));
  if (find(name)) return unexpected(error_from_errno(EEXIST, what, name));
  external_add_link(name, false);
  return ok();
}

Status FakeBackend::delete_link(const std::string& name) {
  ++mutations_;
  const std::string what = "deleting interface " + name;
  if (deny_mutations) return unexpected(error_from_errno(EPERM, what, name));
  if (!find(name)) return unexpected(error_from_errno(ENODEV, what, name));
  external_delete_link(name);
  return ok();
}

Status FakeBackend::set_up(const std::string& name) {
  ++mutations_;
  const std::string what = describe_set_up(name);
  if (deny_mutations) return unexpected(error_from_errno(EPERM, what, name));
  Link* l = find(name);
  if (!l) return unexpected(error_from_errno(ENODEV, what, name));
  set_up_state(name, *l, true);
  return ok();
}

Expected<std::vector<AddressInfo>, Error> FakeBackend::addresses(const std::string& name) {
  Link* l = find(name);
  if (!l) return unexpected(error_from_errno(ENODEV, "listing addresses of " + name, name));
  return l->addresses;
}

Status FakeBackend::add(const AddRequest& request) {
  ++mutations_;
  add_requests_.push_back(request);
  const std::string what = describe_add(request.address, request.interface);
  if (int e = std::exchange(fail_next_add_errno, 0); e != 0) {
    return unexpected(error_from_errno(e, what, request.interface));
  }
  if (deny_mutations) return unexpected(error_from_errno(EPERM, what, request.interface));
  Link* l = find(request.interface);
  if (!l) return unexpected(error_from_errno(ENODEV, what, request.interface));
  for (const auto& a : l->addresses) {
    if (same_kernel_address(a.address, request.address)) {
      return unexpected(error_from_errno(EEXIST, what, request.interface));
    }
  }
  l->addresses.push_back(
      {request.address,
       request.address.is_v4() ? (request.label.empty() ? request.interface : request.label) : "",
       request.host_scope, !request.address.is_v4() && request.nodad});
  notify({KernelChange::Kind::AddressAdded, l->index, "", request.address, false});
  return ok();
}

Status FakeBackend::remove(const std::string& interface, const InterfaceAddress& address) {
  ++mutations_;
  const std::string what = describe_remove(address, interface);
  if (deny_mutations) return unexpected(error_from_errno(EPERM, what, interface));
  Link* l = find(interface);
  if (!l) return unexpected(error_from_errno(ENODEV, what, interface));
  if (!has(interface, address)) return unexpected(error_from_errno(EADDRNOTAVAIL, what, interface));
  external_remove(interface, address);
  return ok();
}

Status FakeBackend::watch() {
  watching_ = true;
  return ok();
}

ChangeBatch FakeBackend::drain() {
  ChangeBatch out{std::move(pending_), lost_};
  pending_.clear();
  lost_ = false;
  return out;
}

void FakeBackend::external_add_link(const std::string& name, bool up) {
  if (find(name)) std::abort();  // test bug: the link exists
  Link l;
  l.index = next_index_++;
  l.up = up;
  links_[name] = l;
  notify({KernelChange::Kind::LinkChanged, l.index, name, {}, up});
}

void FakeBackend::external_add(const std::string& interface, const InterfaceAddress& address) {
  Link* l = find(interface);
  if (!l || has(interface, address)) std::abort();  // test bug
  l->addresses.push_back({address, address.is_v4() ? interface : "", false, false});
  notify({KernelChange::Kind::AddressAdded, l->index, "", address, false});
}

void FakeBackend::external_remove(const std::string& interface, const InterfaceAddress& address) {
  Link* l = find(interface);
  if (!l) std::abort();  // test bug
  auto& v = l->addresses;
  auto it = std::find_if(v.begin(), v.end(), [&](const AddressInfo& a) {
    return same_kernel_address(a.address, address);
  });
  if (it == v.end()) std::abort();  // test bug
  InterfaceAddress gone = it->address;
  v.erase(it);
  notify({KernelChange::Kind::AddressRemoved, l->index, "", gone, false});
}

void FakeBackend::set_up_state(const std::string& name, Link& l, bool up) {
  if (l.up == up) return;
  l.up = up;
  if (!up) {
    // Like the kernel with net.ipv6.conf.*.keep_addr_on_down=0 (the default): a link going
    // down loses its IPv6 addresses; IPv4 addresses stay.
    std::vector<InterfaceAddress> v6;
    for (const auto& a : l.addresses) {
      if (!a.address.is_v4()) v6.push_back(a.address);
    }
    for (const auto& a : v6) external_remove(name, a);
  }
  notify({KernelChange::Kind::LinkChanged, l.index, name, {}, up});
}

void FakeBackend::external_set_up(const std::string& interface, bool up) {
  Link* l = find(interface);
  if (!l) std::abort();  // test bug
  set_up_state(interface, *l, up);
}

void FakeBackend::external_delete_link(const std::string& name) {
  Link* l = find(name);
  if (!l) std::abort();  // test bug
  int index = l->index;
  // Kernel order: an up link is first taken down (RTM_NEWLINK without IFF_UP), then its
  // addresses go (RTM_DELADDR each), then the link (RTM_DELLINK).
  set_up_state(name, *l, false);
  std::vector<InterfaceAddress> all;
  for (const auto& a : l->addresses) all.push_back(a.address);
  for (const auto& a : all) external_remove(name, a);
  links_.erase(name);
  notify({KernelChange::Kind::LinkRemoved, index, name, {}, false});
}

void FakeBackend::overflow() {
  if (!watching_) return;
  pending_.clear();
  lost_ = true;
}

bool FakeBackend::has(const std::string& interface, const InterfaceAddress& address) const {
  auto it = links_.find(interface);
  if (it == links_.end()) return false;
  return std::any_of(it->second.addresses.begin(), it->second.addresses.end(),
                     [&](const AddressInfo& a) { return same_kernel_address(a.address, address); });
}

}  // namespace herald::netlink
