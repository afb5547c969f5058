// AddressBinder: puts the DNS service addresses on an interface and keeps watching them.
//
// The logic only (no kernel access of its own): adopt an address that is already there, add
// the ones that are not, remember which is which, remove only what herald added (and only if
// configured to) on exit, turn kernel notifications into events with a reason, optionally
// re-add what went missing. The kernel side is an AddressBackend, so all of this is tested
// against FakeBackend without privileges.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/address_backend.hpp"

namespace herald::netlink {

// The addresses one DNS service answers on. Several services may share an address.
struct ServiceAddresses {
  std::string service;
  std::vector<InterfaceAddress> addresses;
};

// When herald puts a vanished service address back.
enum class ReaddPolicy {
  Never,             // report it and leave it to the operator
  AfterInterfaceUp,  // every missing one, when the interface comes back up (the kernel drops
                     // IPv6 addresses on link down, so without this a down/up of lo loses IPv6
                     // service for good)
  Always,            // also right after another program removed it
};

enum class AddressScope { Auto, Host, Global };

struct BinderConfig {
  std::string interface = "lo";
  // For an interface other than lo: create it as a dummy interface when it does not exist.
  bool create_dummy = false;
  // Set IFF_UP at bind() when the interface is down.
  bool bring_up = true;
  // IFA_LABEL for IPv4 addresses herald adds, e.g. "lo:herald"; must start with the interface
  // name and fit IFNAMSIZ. The kernel has no IPv6 labels: IPv6 addresses are added without.
  // At bind(), an existing IPv4 address with this label counts as herald's (Origin::Added by
  // an earlier run), not as adopted.
  std::string label;
  // Auto: host scope on lo (the anycast address is then never picked as the source address of
  // outgoing traffic), global elsewhere. IPv4 only: the kernel derives IPv6 scope itself.
  AddressScope scope = AddressScope::Auto;
  // On release(): remove the addresses herald added (never adopted ones), and the dummy
  // interface if herald created it. Default keeps them, so a restart does not flap the service.
  bool remove_on_exit = false;
  ReaddPolicy readd = ReaddPolicy::AfterInterfaceUp;
  std::vector<ServiceAddresses> services;
};

// Checks what can be checked without the kernel: interface name length, label form,
// duplicate addresses within a service. InvalidConfig with a reason otherwise.
Status validate(const BinderConfig& config);

// How an address came to be on the interface.
enum class Origin {
  Added,    // herald added it (or re-added it): removed on exit when remove_on_exit
  Adopted,  // it was already there: never removed by herald
};

// A change of state, with a reason that names the address and/or interface, e.g.
// "address 192.0.2.1/32 removed from lo", "interface lo is down".
struct Event {
  enum class Kind {
    AddressDown,    // a service address left the interface
    AddressUp,      // it is back (someone added it, or herald re-added it)
    InterfaceDown,  // the interface lost IFF_UP or was deleted
    InterfaceUp,
    ServiceDown,  // a service lost one of its addresses or its interface; `service` is set
    ServiceUp,    // all its addresses are present on an up interface again
    ReaddFailed,  // herald tried to put an address back and the kernel refused; see reason
  };
  Kind kind = Kind::AddressDown;
  std::string interface;
  std::optional<InterfaceAddress> address;
  std::string service;
  std::string reason;
};
std::string_view to_string(Event::Kind kind);

class AddressBinder {
 public:
  // `backend` must outlive the binder. Nothing happens until bind().
  AddressBinder(AddressBackend& backend, BinderConfig config);

  // Subscribes to notifications, makes sure the interface exists (creating a dummy when
  // configured) and is up (when configured), then adopts or adds every service address.
  // Stops at the first error; what was added until then is remembered (release() handles it).
  Status bind();

  // Descriptor to wait on for readability (e.g. with asio::posix::stream_descriptor, without
  // handing over ownership); -1 if the backend has none. Valid after bind().
  int fd() const { return backend_.watch_fd(); }

  // Drains pending notifications and returns what changed, in order. Never blocks. Applies the
  // re-add policy on the way. After a notification overrun it re-reads the kernel state.
  std::vector<Event> process();

  // On exit. With remove_on_exit: removes the addresses herald added that are still there, and
  // deletes the dummy interface if herald created it. Otherwise does nothing. Returns what
  // could not be undone (an address already gone is not an error).
  std::vector<Error> release();
  // After a failed start-up: removes what herald added (addresses, a created dummy) whatever
  // remove_on_exit says, since a daemon that never ran has no traffic to keep flowing.
  // Adopted addresses stay. Returns what could not be undone.
  std::vector<Error> undo();

  const std::string& interface() const { return config_.interface; }
  bool interface_up() const { return link_exists_ && link_.up; }
  bool address_present(const InterfaceAddress& address) const;
  std::optional<Origin> origin(const InterfaceAddress& address) const;
  // All of the service's addresses present on an up interface. False for unknown services.
  bool service_ready(std::string_view service) const;
  // How often the kernel dropped notifications and the state was re-read (worth a metric).
  std::size_t overruns() const { return overruns_; }

 private:
  struct Tracked {
    InterfaceAddress address;
    std::vector<std::string> services;
    std::optional<Origin> origin;
    bool present = false;
  };

  std::vector<Error> remove_added();
  Status ensure_interface();
  Status add_one(Tracked& t);
  AddRequest request_for(const InterfaceAddress& address) const;
  Tracked* find(const InterfaceAddress& address);
  const Tracked* find(const InterfaceAddress& address) const;
  void apply(const KernelChange& change, std::vector<Event>& out);
  void on_link_gone(const std::string& reason, std::vector<Event>& out);
  void readd_missing(std::vector<Event>& out);
  void resync(std::vector<Event>& out);
  void settle(std::vector<Event>& out);
  void update_services(const std::string& reason, std::vector<Event>& out);
  bool compute_ready(const std::string& service) const;

  AddressBackend& backend_;
  BinderConfig config_;
  std::vector<Tracked> tracked_;
  LinkState link_;
  bool link_exists_ = false;
  bool created_link_ = false;
  // Set when herald itself created the interface or set it up: the notifications of those
  // steps (e.g. "dns0 is down" right after creation) arrive after our state moved on, so the
  // stream must be discarded and the state re-read instead of replayed.
  bool settle_ = false;
  std::map<std::string, bool, std::less<>> service_ready_;
  std::size_t overruns_ = 0;
};

}  // namespace herald::netlink
