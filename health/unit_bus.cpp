#include "health/unit_bus.hpp"

#include <poll.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace herald::health {

namespace asio = boost::asio;

namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kProps = "org.freedesktop.DBus.Properties";

std::string bus_address() {
  const char* a = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  return a && *a ? a : "unix:path=/run/dbus/system_bus_socket";
}

std::string error_text(const sd_bus_error* e, int r) {
  if (e && sd_bus_error_is_set(e)) return fmt::format("{}: {}", e->name, e->message ? e->message : "");
  return std::strerror(r < 0 ? -r : r);
}

// A read in flight: three properties asked at once, answered in any order.
struct ReadOp {
  UnitBus::ReadDone done;
  int left = 3;
  UnitState state;
  std::optional<std::string> error;
};

struct Conn : std::enable_shared_from_this<Conn> {
  Conn(asio::io_context& ctx, std::string u) : io(ctx), unit(std::move(u)), fd(ctx), timer(ctx) {}
  ~Conn() { drop(); }

  asio::io_context& io;
  std::string unit;
  std::string path;
  sd_bus* bus = nullptr;
  sd_bus_slot* match = nullptr;
  asio::posix::stream_descriptor fd;
  asio::steady_timer timer;
  unsigned gen = 0;  // a new connection ignores the waits of the old one
  bool reading = false;
  bool writing = false;
  bool pumping = false;
  bool closed = false;
  std::optional<std::string> failed;  // set by a callback; pump() drops the connection after
  std::shared_ptr<ReadOp> op;
  std::function<void(UnitState)> on_change;
  std::function<void(std::string)> on_lost;

  void drop() {
    ++gen;
    failed.reset();
    reading = writing = false;
    boost::system::error_code ignored;
    fd.close(ignored);
    timer.cancel();
    if (match) match = sd_bus_slot_unref(match);
    if (bus) bus = sd_bus_close_unref(bus);  // never blocks the loop on a stuck peer
  }

  // Ends the read in flight with `error` (from the io_context, not from here).
  void fail_op(const std::string& error) {
    if (!op) return;
    auto o = std::move(op);
    op.reset();
    asio::post(io, [o, error] { o->done(herald::unexpected(error)); });
  }

  void lost(const std::string& reason) {
    drop();
    const std::string why = fmt::format("systemd's bus {}: {}", bus_address(), reason);
    fail_op(why);
    if (on_lost && !closed) asio::post(io, [self = shared_from_this(), why] {
      if (!self->closed && self->on_lost) self->on_lost(why);
    });
  }

  std::optional<std::string> connect() {
    sd_bus* b = nullptr;
    int r = sd_bus_open_system(&b);
    if (r < 0) return fmt::format("cannot connect to systemd's bus {}: {}", bus_address(), std::strerror(-r));
    bus = b;
    char* p = nullptr;
    r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &p);
    if (r < 0) {
      drop();
      return fmt::format("unit name {}: {}", unit, std::strerror(-r));
    }
    path = p;
    std::free(p);
    r = sd_bus_match_signal_async(bus, &match, kSystemd, path.c_str(), kProps, "PropertiesChanged",
                                  &Conn::on_signal, &Conn::on_match_installed, this);
    if (r >= 0)
      // systemd sends its units' changes on the bus only while some client is subscribed.
      r = sd_bus_call_method_async(bus, nullptr, kSystemd, "/org/freedesktop/systemd1",
                                   "org.freedesktop.systemd1.Manager", "Subscribe", &Conn::on_subscribed,
                                   this, "");
    const int bfd = r >= 0 ? sd_bus_get_fd(bus) : r;
    const int dfd = bfd >= 0 ? ::dup(bfd) : -1;
    if (dfd < 0) {
      const int err = bfd < 0 ? -bfd : errno;
      drop();
      return fmt::format("systemd's bus {}: {}", bus_address(), std::strerror(err));
    }
    fd.assign(dfd);
    return std::nullopt;
  }

  static int on_match_installed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Conn*>(userdata);
    if (const sd_bus_error* e = sd_bus_message_get_error(m))
      self->failed = fmt::format("cannot watch unit {}: {}", self->unit, error_text(e, 0));
    return 0;
  }

  static int on_subscribed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Conn*>(userdata);
    if (const sd_bus_error* e = sd_bus_message_get_error(m))
      self->failed = fmt::format("cannot subscribe to systemd's changes: {}", error_text(e, 0));
    return 0;
  }

  // PropertiesChanged(s interface, a{sv} changed, as invalidated): the properties we follow.
  static int on_signal(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Conn*>(userdata);
    UnitState u;
    const char* iface = nullptr;
    if (sd_bus_message_read(m, "s", &iface) < 0) return 0;
    if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0) return 0;
    for (int i = 0; i < 512; ++i) {  // systemd's units have about 200 properties
      if (sd_bus_message_enter_container(m, 'e', "sv") <= 0) break;
      const char* key = nullptr;
      if (sd_bus_message_read(m, "s", &key) < 0) return 0;
      const std::string_view k(key);
      if (k == "ActiveState" || k == "LoadState") {
        const char* v = nullptr;
        if (sd_bus_message_read(m, "v", "s", &v) < 0) return 0;
        (k == "ActiveState" ? u.active_state : u.load_state) = std::string(v);
      } else if (k == "MainPID") {
        std::uint32_t pid = 0;
        if (sd_bus_message_read(m, "v", "u", &pid) < 0) return 0;
        u.main_pid = static_cast<int>(pid);
      } else if (sd_bus_message_skip(m, "v") < 0) {
        return 0;
      }
      if (sd_bus_message_exit_container(m) < 0) return 0;
    }
    if (u == UnitState{} || !self->on_change) return 0;
    asio::post(self->io, [s = self->shared_from_this(), u] {
      if (!s->closed && s->on_change) s->on_change(u);
    });
    return 0;
  }

  // One property's answer to the read in flight.
  template <typename F>
  static int answer(sd_bus_message* m, void* userdata, F take) {
    auto* self = static_cast<Conn*>(userdata);
    if (!self->op) return 0;
    auto& o = *self->op;
    if (const sd_bus_error* e = sd_bus_message_get_error(m)) {
      if (!o.error) o.error = fmt::format("reading unit {}: {}", self->unit, error_text(e, 0));
    } else if (int r = take(m, o.state); r < 0 && !o.error) {
      o.error = fmt::format("reading unit {}: bad reply: {}", self->unit, std::strerror(-r));
    }
    if (--o.left > 0) return 0;
    auto done = std::move(self->op);
    self->op.reset();
    asio::post(self->io, [done] {
      if (done->error)
        done->done(herald::unexpected(*done->error));
      else
        done->done(done->state);
    });
    return 0;
  }
  static int on_load_state(sd_bus_message* m, void* u, sd_bus_error*) {
    return answer(m, u, [](sd_bus_message* msg, UnitState& s) {
      const char* v = nullptr;
      int r = sd_bus_message_read(msg, "v", "s", &v);
      if (r >= 0) s.load_state = v;
      return r;
    });
  }
  static int on_active_state(sd_bus_message* m, void* u, sd_bus_error*) {
    return answer(m, u, [](sd_bus_message* msg, UnitState& s) {
      const char* v = nullptr;
      int r = sd_bus_message_read(msg, "v", "s", &v);
      if (r >= 0) s.active_state = v;
      return r;
    });
  }
  static int on_main_pid(sd_bus_message* m, void* u, sd_bus_error*) {
    return answer(m, u, [](sd_bus_message* msg, UnitState& s) {
      std::uint32_t v = 0;
      int r = sd_bus_message_read(msg, "v", "u", &v);
      if (r >= 0) s.main_pid = static_cast<int>(v);
      return r;
    });
  }

  void read(Duration timeout, UnitBus::ReadDone done) {
    op = std::make_shared<ReadOp>();
    op->done = std::move(done);
    if (!bus) {
      if (auto err = connect()) {
        fail_op(*err);
        return;
      }
    }
    const auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
    struct Ask {
      const char* iface;
      const char* prop;
      sd_bus_message_handler_t cb;
    };
    const Ask asks[] = {{"org.freedesktop.systemd1.Unit", "LoadState", &Conn::on_load_state},
                        {"org.freedesktop.systemd1.Unit", "ActiveState", &Conn::on_active_state},
                        {"org.freedesktop.systemd1.Service", "MainPID", &Conn::on_main_pid}};
    for (const Ask& a : asks) {
      sd_bus_message* call = nullptr;
      int r = sd_bus_message_new_method_call(bus, &call, kSystemd, path.c_str(), kProps, "Get");
      if (r >= 0) r = sd_bus_message_append(call, "ss", a.iface, a.prop);
      if (r >= 0) r = sd_bus_call_async(bus, nullptr, call, a.cb, this, usec);
      sd_bus_message_unref(call);
      if (r < 0) {
        lost(fmt::format("cannot ask for {}: {}", a.prop, std::strerror(-r)));
        return;
      }
    }
    pump();
  }

  // Lets sd-bus do what it can now, then waits for what it waits for (its socket, its timeout).
  void pump() {
    if (!bus || pumping) return;
    pumping = true;
    int r = 0;
    int rounds = 0;
    // Callbacks never drop the connection themselves: they run inside sd_bus_process.
    while (!failed && (r = sd_bus_process(bus, nullptr)) > 0 && ++rounds < 256) {
    }
    pumping = false;
    if (failed) {
      const std::string why = *failed;
      failed.reset();
      return lost(why);
    }
    if (r < 0) return lost(std::strerror(-r));
    if (!sd_bus_is_open(bus)) return lost("connection closed");
    if (rounds >= 256) {  // more to do: let the rest of the loop run first
      asio::post(io, [self = shared_from_this(), g = gen] {
        if (g == self->gen) self->pump();
      });
      return;
    }
    const int ev = sd_bus_get_events(bus);
    if (ev < 0) return lost(std::strerror(-ev));
    const auto wait = [this](asio::posix::stream_descriptor::wait_type t, bool& flag) {
      flag = true;
      fd.async_wait(t, [self = shared_from_this(), g = gen, &flag](const boost::system::error_code& ec) {
        if (g != self->gen) return;
        flag = false;
        if (!ec) self->pump();
      });
    };
    if ((ev & POLLIN) && !reading) wait(asio::posix::stream_descriptor::wait_read, reading);
    if ((ev & POLLOUT) && !writing) wait(asio::posix::stream_descriptor::wait_write, writing);
    std::uint64_t until = 0;
    if (sd_bus_get_timeout(bus, &until) >= 0 && until != UINT64_MAX) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      const std::uint64_t now_us = static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
                                   static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
      timer.expires_after(std::chrono::microseconds(until > now_us ? until - now_us : 0));
      timer.async_wait([self = shared_from_this(), g = gen](const boost::system::error_code& ec) {
        if (!ec && g == self->gen) self->pump();
      });
    }
  }
};

class SdUnitBus final : public UnitBus {
 public:
  SdUnitBus(asio::io_context& io, std::string unit) : c_(std::make_shared<Conn>(io, std::move(unit))) {}
  ~SdUnitBus() override { close(); }
  void read(Duration timeout, ReadDone done) override { c_->read(timeout, std::move(done)); }
  void on_change(std::function<void(UnitState)> cb) override { c_->on_change = std::move(cb); }
  void on_lost(std::function<void(std::string)> cb) override { c_->on_lost = std::move(cb); }
  void close() override {
    c_->closed = true;
    c_->on_change = nullptr;
    c_->on_lost = nullptr;
    c_->op.reset();
    c_->drop();
  }

 private:
  std::shared_ptr<Conn> c_;
};

}  // namespace

std::unique_ptr<UnitBus> make_systemd_unit_bus(asio::io_context& io, std::string unit) {
  return std::make_unique<SdUnitBus>(io, std::move(unit));
}

}  // namespace herald::health
