#include "netlink/address_binder.hpp"

#include <fmt/format.h>
#include <net/if.h>

#include <algorithm>

namespace herald::netlink {

namespace {

Error invalid(std::string message) {
  return Error{ErrorKind::InvalidConfig, 0, std::move(message)};
}

}  // namespace

Status validate(const BinderConfig& config) {
  const auto& ifname = config.interface;
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    return unexpected(invalid(
        fmt::format("interface name \"{}\" must have 1 to {} characters", ifname, IFNAMSIZ - 1)));
  }
  if (!config.label.empty()) {
    // The kernel reports an IPv4 label as an alias of the device ("lo:herald"); a label that
    // does not start with the device name is refused by iproute2 and confuses every reader.
    if (config.label.size() >= IFNAMSIZ) {
      return unexpected(invalid(fmt::format("address label \"{}\" is longer than {} characters",
                                            config.label, IFNAMSIZ - 1)));
    }
    if (config.label.rfind(ifname, 0) != 0) {
      return unexpected(invalid(fmt::format(
          "address label \"{}\" must start with the interface name \"{}\"", config.label, ifname)));
    }
  }
  for (const auto& s : config.services) {
    for (std::size_t i = 0; i < s.addresses.size(); ++i) {
      for (std::size_t j = i + 1; j < s.addresses.size(); ++j) {
        if (same_kernel_address(s.addresses[i], s.addresses[j])) {
          return unexpected(invalid(fmt::format("service {} lists address {} twice", s.service,
                                                s.addresses[i].to_string())));
        }
      }
    }
  }
  return ok();
}

std::string_view to_string(Event::Kind kind) {
  switch (kind) {
    case Event::Kind::AddressDown:
      return "address-down";
    case Event::Kind::AddressUp:
      return "address-up";
    case Event::Kind::InterfaceDown:
      return "interface-down";
    case Event::Kind::InterfaceUp:
      return "interface-up";
    case Event::Kind::ServiceDown:
      return "service-down";
    case Event::Kind::ServiceUp:
      return "service-up";
    case Event::Kind::ReaddFailed:
      return "readd-failed";
  }
  return "unknown";
}

AddressBinder::AddressBinder(AddressBackend& backend, BinderConfig config)
    : backend_(backend), config_(std::move(config)) {
  // One Tracked per distinct kernel address; services sharing an address share its state.
  for (const auto& s : config_.services) {
    for (const auto& a : s.addresses) {
      Tracked* t = find(a);
      if (!t) {
        tracked_.push_back(Tracked{a, {}, std::nullopt, false});
        t = &tracked_.back();
      }
      t->services.push_back(s.service);
    }
    service_ready_[s.service] = false;
  }
}

AddressBinder::Tracked* AddressBinder::find(const InterfaceAddress& address) {
  for (auto& t : tracked_) {
    if (same_kernel_address(t.address, address)) return &t;
  }
  return nullptr;
}

const AddressBinder::Tracked* AddressBinder::find(const InterfaceAddress& address) const {
  for (const auto& t : tracked_) {
    if (same_kernel_address(t.address, address)) return &t;
  }
  return nullptr;
}

AddRequest AddressBinder::request_for(const InterfaceAddress& address) const {
  AddRequest r;
  r.interface = config_.interface;
  r.address = address;
  if (address.is_v4()) {
    r.label = config_.label;
    r.host_scope = config_.scope == AddressScope::Host ||
                   (config_.scope == AddressScope::Auto && config_.interface == "lo");
  }
  // DAD would keep the address tentative (unusable) for about a second, and duplicates are
  // the whole point of anycast (RFC 4862 5.4 lets a node skip DAD; IFA_F_NODAD does that).
  r.nodad = !address.is_v4();
  return r;
}

Status AddressBinder::ensure_interface() {
  auto l = backend_.link(config_.interface);
  if (!l && l.error().kind == ErrorKind::NoSuchInterface && config_.create_dummy &&
      config_.interface != "lo") {
    if (auto c = backend_.create_dummy(config_.interface); !c) {
      // Someone created it between our look-up and now: use it, but it is not ours.
      if (c.error().kind != ErrorKind::AlreadyExists) return unexpected(c.error());
    } else {
      created_link_ = true;
      settle_ = true;
    }
    l = backend_.link(config_.interface);
  }
  if (!l) return unexpected(l.error());
  link_ = *l;
  link_exists_ = true;
  if (!link_.up && config_.bring_up) {
    if (auto u = backend_.set_up(config_.interface); !u) return unexpected(u.error());
    link_.up = true;
    settle_ = true;
  }
  return ok();
}

Status AddressBinder::add_one(Tracked& t) {
  auto r = backend_.add(request_for(t.address));
  if (r) {
    t.origin = Origin::Added;
  } else if (r.error().kind == ErrorKind::AlreadyExists) {
    // Appeared since we listed (or was there with another IPv6 prefix length): adopt it.
    if (!t.origin) t.origin = Origin::Adopted;
  } else {
    return r;
  }
  t.present = true;
  return ok();
}

Status AddressBinder::bind() {
  if (auto v = validate(config_); !v) return v;
  // Subscribe first: a change between the dump below and the subscription would be lost.
  if (auto w = backend_.watch(); !w) return w;
  if (auto e = ensure_interface(); !e) return e;
  auto existing = backend_.addresses(config_.interface);
  if (!existing) return unexpected(existing.error());
  for (auto& t : tracked_) {
    auto it = std::find_if(existing->begin(), existing->end(), [&](const AddressInfo& a) {
      return same_kernel_address(a.address, t.address);
    });
    if (it != existing->end()) {
      // herald's label marks an address an earlier herald added (and kept on exit): it is
      // still herald's to remove. IPv6 has no labels, so there it is adopted.
      const bool ours = !config_.label.empty() && t.address.is_v4() && it->label == config_.label;
      t.origin = ours ? Origin::Added : Origin::Adopted;
      t.present = true;
    } else if (auto r = add_one(t); !r) {
      return r;
    }
  }
  if (settle_) {
    std::vector<Event> ignored;  // bind() reports state, not transitions
    settle(ignored);
  }
  for (auto& [name, ready] : service_ready_) ready = compute_ready(name);
  return ok();
}

void AddressBinder::settle(std::vector<Event>& out) {
  // Drop what is queued (it predates the read below, which supersedes it) and re-read. Our own
  // re-creation during resync can ask for another round; two are enough for any sequence of
  // our own steps, a third would mean the interface keeps vanishing, which is reported anyway.
  for (int round = 0; round < 2 && settle_; ++round) {
    settle_ = false;
    (void)backend_.drain();
    resync(out);
  }
  settle_ = false;
}

bool AddressBinder::compute_ready(const std::string& service) const {
  if (!interface_up()) return false;
  for (const auto& t : tracked_) {
    if (std::find(t.services.begin(), t.services.end(), service) != t.services.end() &&
        !t.present) {
      return false;
    }
  }
  return true;
}

void AddressBinder::update_services(const std::string& reason, std::vector<Event>& out) {
  for (auto& [name, ready] : service_ready_) {
    bool now = compute_ready(name);
    if (now == ready) continue;
    ready = now;
    out.push_back(Event{now ? Event::Kind::ServiceUp : Event::Kind::ServiceDown, config_.interface,
                        std::nullopt, name, fmt::format("service {}: {}", name, reason)});
  }
}

void AddressBinder::readd_missing(std::vector<Event>& out) {
  if (!interface_up()) return;  // an IPv6 address added now would be flushed again on up
  for (auto& t : tracked_) {
    if (t.present) continue;
    if (auto r = add_one(t); !r) {
      out.push_back(
          Event{Event::Kind::ReaddFailed, config_.interface, t.address, "", r.error().message});
      continue;
    }
    std::string reason =
        fmt::format("address {} re-added to {}", t.address.to_string(), config_.interface);
    out.push_back(Event{Event::Kind::AddressUp, config_.interface, t.address, "", reason});
    update_services(reason, out);
  }
}

void AddressBinder::on_link_gone(const std::string& reason, std::vector<Event>& out) {
  link_exists_ = false;
  link_.up = false;
  for (auto& t : tracked_) {
    if (!t.present) continue;
    t.present = false;
    std::string why =
        fmt::format("address {} removed from {}", t.address.to_string(), config_.interface);
    out.push_back(Event{Event::Kind::AddressDown, config_.interface, t.address, "", why});
  }
  // Reported even when a "down" came first (the kernel sends one before deleting an up link):
  // gone is worse than down, and the reason says which it is.
  out.push_back(Event{Event::Kind::InterfaceDown, config_.interface, std::nullopt, "", reason});
  update_services(reason, out);
  if (config_.readd == ReaddPolicy::Always && config_.create_dummy) {
    // Bring back the interface herald is configured to own, then its addresses.
    if (auto e = ensure_interface(); !e) {
      out.push_back(
          Event{Event::Kind::ReaddFailed, config_.interface, std::nullopt, "", e.error().message});
      return;
    }
    std::string up = fmt::format("interface {} re-created and up", config_.interface);
    out.push_back(Event{Event::Kind::InterfaceUp, config_.interface, std::nullopt, "", up});
    update_services(up, out);
    readd_missing(out);
  }
}

void AddressBinder::apply(const KernelChange& c, std::vector<Event>& out) {
  const std::string& ifname = config_.interface;
  switch (c.kind) {
    case KernelChange::Kind::LinkChanged: {
      if (c.interface != ifname) {
        // Our index under another name: renamed away, which for us is gone.
        if (link_exists_ && c.ifindex == link_.index) {
          on_link_gone(fmt::format("interface {} was renamed to {}", ifname, c.interface), out);
        }
        return;
      }
      link_.index = c.ifindex;  // may be new: the interface was deleted and re-created
      link_.name = ifname;
      bool was_up = interface_up();
      link_exists_ = true;
      link_.up = c.up;
      if (was_up == c.up) return;
      std::string reason = fmt::format("interface {} is {}", ifname, c.up ? "up" : "down");
      out.push_back(Event{c.up ? Event::Kind::InterfaceUp : Event::Kind::InterfaceDown, ifname,
                          std::nullopt, "", reason});
      update_services(reason, out);
      if (c.up && config_.readd != ReaddPolicy::Never) readd_missing(out);
      return;
    }
    case KernelChange::Kind::LinkRemoved:
      if (link_exists_ && c.ifindex == link_.index) {
        on_link_gone(fmt::format("interface {} was deleted", ifname), out);
      }
      return;
    case KernelChange::Kind::AddressAdded: {
      if (!link_exists_ || c.ifindex != link_.index) return;
      Tracked* t = find(c.address);
      if (!t || t->present) return;
      t->present = true;
      if (!t->origin) t->origin = Origin::Adopted;
      std::string reason = fmt::format("address {} is back on {}", t->address.to_string(), ifname);
      out.push_back(Event{Event::Kind::AddressUp, ifname, t->address, "", reason});
      update_services(reason, out);
      return;
    }
    case KernelChange::Kind::AddressRemoved: {
      if (!link_exists_ || c.ifindex != link_.index) return;
      Tracked* t = find(c.address);
      if (!t || !t->present) return;
      t->present = false;
      std::string reason =
          fmt::format("address {} removed from {}", t->address.to_string(), ifname);
      out.push_back(Event{Event::Kind::AddressDown, ifname, t->address, "", reason});
      update_services(reason, out);
      if (config_.readd == ReaddPolicy::Always) readd_missing(out);
      return;
    }
  }
}

void AddressBinder::resync(std::vector<Event>& out) {
  // Notifications were dropped: compare what we believe with what the kernel says now, and
  // feed the differences through apply() as if they had been notified.
  auto l = backend_.link(config_.interface);
  if (!l) {
    if (link_exists_) {
      on_link_gone(fmt::format("interface {} is gone ({})", config_.interface, l.error().message),
                   out);
    }
    return;
  }
  if (link_exists_ && l->index != link_.index) {
    on_link_gone(fmt::format("interface {} was re-created", config_.interface), out);
  }
  apply(KernelChange{KernelChange::Kind::LinkChanged, l->index, l->name, {}, l->up}, out);
  auto addrs = backend_.addresses(config_.interface);
  if (!addrs) return;
  for (auto& t : tracked_) {
    bool there = std::any_of(addrs->begin(), addrs->end(), [&](const AddressInfo& a) {
      return same_kernel_address(a.address, t.address);
    });
    if (there != t.present) {
      apply(KernelChange{there ? KernelChange::Kind::AddressAdded
                               : KernelChange::Kind::AddressRemoved,
                         l->index, "", t.address, false},
            out);
    }
  }
}

std::vector<Event> AddressBinder::process() {
  std::vector<Event> out;
  ChangeBatch batch = backend_.drain();
  for (const auto& c : batch.changes) {
    if (settle_) break;  // the rest is older than what settle() will read
    apply(c, out);
  }
  if (batch.lost) {
    ++overruns_;
    settle_ = true;
  }
  settle(out);
  return out;
}

std::vector<Error> AddressBinder::release() {
  if (!config_.remove_on_exit) return {};
  return remove_added();
}

std::vector<Error> AddressBinder::undo() { return remove_added(); }

std::vector<Error> AddressBinder::remove_added() {
  std::vector<Error> errors;
  for (auto& t : tracked_) {
    if (t.origin != Origin::Added) continue;
    if (t.present && link_exists_) {
      auto r = backend_.remove(config_.interface, t.address);
      if (!r && r.error().kind != ErrorKind::AddressNotFound) {
        errors.push_back(r.error());
        continue;
      }
    }
    t.present = false;
    t.origin.reset();
  }
  if (created_link_ && link_exists_) {
    if (auto r = backend_.delete_link(config_.interface);
        !r && r.error().kind != ErrorKind::NoSuchInterface) {
      errors.push_back(r.error());
    } else {
      created_link_ = false;
      link_exists_ = false;
    }
  }
  return errors;
}

bool AddressBinder::address_present(const InterfaceAddress& address) const {
  const Tracked* t = find(address);
  return t && t->present;
}

std::optional<Origin> AddressBinder::origin(const InterfaceAddress& address) const {
  const Tracked* t = find(address);
  return t ? t->origin : std::nullopt;
}

bool AddressBinder::service_ready(std::string_view service) const {
  auto it = service_ready_.find(service);
  return it != service_ready_.end() && it->second;
}

}  // namespace herald::netlink
