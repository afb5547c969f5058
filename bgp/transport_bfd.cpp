#include "bgp/transport_bfd.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "base/asio.hpp"
#include "bgp/transport_socket_options.hpp"

namespace herald::bgp::bfd {

namespace asio = boost::asio;
using asio::ip::udp;
using transport::Endpoint;

namespace {

// A datagram larger than this is no BFD Control packet we could accept (the mandatory section
// is 24 octets, authentication adds at most 28); reading it truncated still fails the length check.
constexpr std::size_t kMaxDatagram = 128;
// Bounded work per wake-up, so one flooded listener cannot starve the timers.
constexpr int kMaxDatagramsPerWake = 64;
constexpr int kPortTries = 64;

std::string errno_text(int err) { return std::strerror(err); }

// The TTL / Hop Limit the kernel reports for a received datagram (RFC 5881 5), -1 if absent.
// The CMSG_* macros are C: old-style casts and pointer arithmetic are confined to this function.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
int received_ttl(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL;
    const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT;
    if ((v4 || v6) && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v = -1;
      std::memcpy(&v, CMSG_DATA(c), sizeof v);
      return v;
    }
  }
  return -1;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

std::string describe(const StateChange& c) {
  return fmt::format("BFD state {} -> {}: {} (diag {})", to_string(c.from), to_string(c.to), c.reason,
                     to_string(c.diag));
}

}  // namespace

struct Runtime::Impl {
  struct Entry {
    Entry(asio::io_context& io, SessionSpec s) : spec(std::move(s)), tx_timer(io), detect_timer(io) {}
    SessionSpec spec;
    std::unique_ptr<Session> engine;
    std::unique_ptr<udp::socket> socket;
    std::uint16_t source_port = 0;
    asio::steady_timer tx_timer;
    asio::steady_timer detect_timer;
    std::uint64_t tx_generation = 0;
    std::uint64_t detect_generation = 0;
    std::uint64_t send_errors = 0;
    bool send_failing = false;  // log the first error of a streak only
  };

  Impl(asio::io_context& m, RuntimeSettings s, RuntimeObserver o)
      : main(m),
        settings(std::move(s)),
        observer(std::make_shared<RuntimeObserver>(std::move(o))),
        rng(settings.rng_seed ? *settings.rng_seed : std::random_device{}()) {
    if (settings.listen.empty()) {
      settings.listen = {Endpoint{IpAddress{Afi::Ipv4, {}}, kControlPort},
                         Endpoint{IpAddress{Afi::Ipv6, {}}, kControlPort}};
    }
  }

  asio::io_context& main;
  asio::io_context io;  // the BFD thread's
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  bool running = false;
  RuntimeSettings settings;
  // Reset when the Runtime goes away; posted callbacks hold it weakly.
  std::shared_ptr<RuntimeObserver> observer;
  Rng rng;

  // ---- BFD thread only ----
  std::vector<std::unique_ptr<udp::socket>> listeners;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries;
  std::map<std::uint32_t, Entry*> by_discriminator;

  // ---- shared, under mu ----
  mutable std::mutex mu;
  std::map<std::string, SessionSnapshot, std::less<>> snapshots;
  DropCounters drops{};
  std::vector<Endpoint> bound;

  // Posts to the main thread; dropped silently once the Runtime is gone.
  void log(LogLevel level, std::string name, std::string text) {
    std::weak_ptr<RuntimeObserver> w = observer;
    asio::post(main, [w, level, name = std::move(name), text = std::move(text)] {
      if (auto o = w.lock(); o && o->log) o->log(level, name, text);
    });
  }

  void drop(PacketError e) {
    std::lock_guard lock(mu);
    ++drops[static_cast<std::size_t>(e)];
  }

  std::vector<std::string> open_listeners() {
    std::vector<std::string> errors;
    for (const auto& where : settings.listen) {
      auto sock = std::make_unique<udp::socket>(io);
      boost::system::error_code ec;
      const auto ep = udp::endpoint(transport::to_asio(where.address), where.port);
      sock->open(ep.protocol(), ec);
      const int fd = ec ? -1 : sock->native_handle();
      const int on = 1;
      if (!ec && where.address.is_v4() && ::setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof on) != 0)
        ec.assign(errno, boost::system::system_category());
      if (!ec && !where.address.is_v4()) {
        sock->set_option(asio::ip::v6_only(true), ec);
        if (!ec && ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0)
          ec.assign(errno, boost::system::system_category());
      }
      if (!ec) sock->bind(ep, ec);
      if (!ec) sock->non_blocking(true, ec);
      if (ec) {
        errors.push_back(fmt::format("BFD listener {}: {}", where.to_string(), ec.message()));
        continue;
      }
      const auto local = sock->local_endpoint(ec);
      {
        std::lock_guard lock(mu);
        bound.push_back(Endpoint{transport::from_asio(local.address()), local.port()});
      }
      listeners.push_back(std::move(sock));
    }
    return errors;
  }

  void wait_read(udp::socket* sock) {
    sock->async_wait(udp::socket::wait_read, [this, sock](const boost::system::error_code& ec) {
      if (ec) return;  // closed
      for (int i = 0; i < kMaxDatagramsPerWake; ++i)
        if (!read_one(*sock)) break;
      wait_read(sock);
    });
  }

  // Reads and handles one datagram; false when none was waiting.
  bool read_one(udp::socket& sock) {
    std::array<std::uint8_t, kMaxDatagram> buf{};
    sockaddr_storage from{};
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) std::array<char, 256> control{};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(sock.native_handle(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log(LogLevel::warning, "", fmt::format("BFD receive: {}", errno_text(errno)));
      return false;
    }
    udp::endpoint src;
    if (msg.msg_namelen > src.capacity()) return true;
    std::memcpy(src.data(), &from, msg.msg_namelen);
    src.resize(msg.msg_namelen);
    const IpAddress source = transport::from_asio(src.address());
    const std::size_t len = static_cast<std::size_t>(n);
    // RFC 5881 5: a single-hop session accepts only packets sent with TTL/Hop Limit 255.
    if (received_ttl(msg) != kRequiredTtl) return drop(PacketError::BadTtl), true;
    auto packet = decode(std::span<const std::uint8_t>(buf.data(), std::min(len, buf.size())));
    if (!packet) return drop(packet.error()), true;
    Entry* e = nullptr;
    if (packet->your_discriminator != 0) {
      auto it = by_discriminator.find(packet->your_discriminator);
      if (it == by_discriminator.end() || it->second->spec.remote != source)
        return drop(PacketError::UnknownYourDiscriminator), true;
      e = it->second;
    } else {
      for (auto& [name, entry] : entries)
        if (entry->spec.remote == source) e = entry.get();
      if (!e) return drop(PacketError::NoSession), true;
    }
    auto r = e->engine->receive(*packet, asio::steady_timer::clock_type::now());
    if (!r) return drop(r.error()), true;
    apply(*e, std::move(*r));
    return true;
  }

  void open_socket(Entry& e) {
    const bool v4 = e.spec.remote.is_v4();
    const IpAddress local = e.spec.local ? *e.spec.local : IpAddress{v4 ? Afi::Ipv4 : Afi::Ipv6, {}};
    auto sock = std::make_unique<udp::socket>(io);
    boost::system::error_code ec;
    sock->open(v4 ? udp::v4() : udp::v6(), ec);
    if (ec) {
      log(LogLevel::error, e.spec.name, fmt::format("BFD socket: {}", ec.message()));
      return;
    }
    // RFC 5881 5: sent with TTL/Hop Limit 255, so the neighbor's GTSM check passes.
    if (auto err = transport::set_ttl_255(sock->native_handle(), transport::SocketShape{!v4, v4}, e.spec.remote)) {
      log(LogLevel::error, e.spec.name, err->what);
      return;
    }
    // RFC 4594: network control traffic is marked CS6, like the BGP session.
    const int tos = 0xC0;
    if (v4) {
      (void)::setsockopt(sock->native_handle(), IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    } else {
      (void)::setsockopt(sock->native_handle(), IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    }
    // RFC 5881 4: a source port in 49152-65535, distinct per session.
    std::uniform_int_distribution<unsigned> port(kSourcePortMin, kSourcePortMax);
    for (int i = 0; i < kPortTries; ++i) {
      const auto p = static_cast<std::uint16_t>(port(rng));
      sock->bind(udp::endpoint(transport::to_asio(local), p), ec);
      if (!ec) {
        e.source_port = p;
        sock->non_blocking(true, ec);
        e.socket = std::move(sock);
        return;
      }
      if (ec != asio::error::address_in_use) break;
    }
    log(LogLevel::error, e.spec.name, fmt::format("BFD socket bind to {}: {}", local.to_string(), ec.message()));
  }

  void send(Entry& e, const ControlPacket& p) {
    if (!e.socket) open_socket(e);  // the local address may have appeared since
    boost::system::error_code ec;
    if (e.socket) {
      const Bytes b = encode(p);
      e.socket->send_to(asio::buffer(b), udp::endpoint(transport::to_asio(e.spec.remote), e.spec.remote_port), 0, ec);
    } else {
      ec = asio::error::bad_descriptor;
    }
    if (ec) {
      ++e.send_errors;
      if (!e.send_failing)
        log(LogLevel::warning, e.spec.name, fmt::format("BFD send to {}: {}", e.spec.remote.to_string(), ec.message()));
      e.send_failing = true;
    } else if (e.send_failing) {
      e.send_failing = false;
      log(LogLevel::info, e.spec.name, fmt::format("BFD send to {} works again", e.spec.remote.to_string()));
    }
  }

  void arm(Entry& e, Timer t, Clock::duration after) {
    auto& timer = t == Timer::Transmit ? e.tx_timer : e.detect_timer;
    auto& gen = t == Timer::Transmit ? e.tx_generation : e.detect_generation;
    const std::uint64_t g = ++gen;
    timer.expires_after(after);
    timer.async_wait([this, name = e.spec.name, ptr = &e, t, g](const boost::system::error_code& ec) {
      if (ec) return;
      // The entry may have been removed (or replaced) since: look it up, never trust `ptr`.
      auto it = entries.find(name);
      if (it == entries.end() || it->second.get() != ptr) return;
      Entry& en = *it->second;
      if ((t == Timer::Transmit ? en.tx_generation : en.detect_generation) != g) return;
      apply(en, en.engine->timer(t, asio::steady_timer::clock_type::now()));
    });
  }

  // The translation of engine actions into I/O on the BFD thread. State changes are posted to
  // the main loop after the snapshot is updated, so a callback never sees an older status().
  void apply(Entry& e, Actions actions) {
    std::vector<StateChange> changes;
    for (auto& a : actions) {
      if (auto* s = std::get_if<SendPacket>(&a)) {
        send(e, s->packet);
      } else if (auto* t = std::get_if<ArmTimer>(&a)) {
        arm(e, t->timer, t->after);
      } else if (auto* c = std::get_if<CancelTimer>(&a)) {
        ++(c->timer == Timer::Transmit ? e.tx_generation : e.detect_generation);
        (c->timer == Timer::Transmit ? e.tx_timer : e.detect_timer).cancel();
      } else if (auto* ch = std::get_if<StateChange>(&a)) {
        changes.push_back(std::move(*ch));
      }
    }
    publish(e);
    for (auto& ch : changes) {
      log(ch.to == State::Up || ch.from != State::Up ? LogLevel::info : LogLevel::warning, e.spec.name, describe(ch));
      std::weak_ptr<RuntimeObserver> w = observer;
      asio::post(main, [w, name = e.spec.name, change = std::move(ch), status = e.engine->status()] {
        if (auto o = w.lock(); o && o->state_change) o->state_change(name, change, status);
      });
    }
  }

  void publish(const Entry& e) {
    SessionSnapshot s{e.spec.name, e.spec.remote, e.spec.local, e.source_port, e.engine->status(), e.send_errors};
    std::lock_guard lock(mu);
    snapshots[e.spec.name] = std::move(s);
  }

  std::uint32_t allocate_discriminator() {
    std::uniform_int_distribution<std::uint32_t> d(1, 0xffffffff);
    for (;;) {
      const std::uint32_t v = d(rng);
      if (!by_discriminator.contains(v)) return v;
    }
  }

  void do_remove(const std::string& name) {
    auto it = entries.find(name);
    if (it == entries.end()) return;
    Entry& e = *it->second;
    apply(e, e.engine->stop(asio::steady_timer::clock_type::now()));
    by_discriminator.erase(e.engine->status().local_discriminator);
    entries.erase(it);  // destroying the timers cancels their waits
    std::lock_guard lock(mu);
    snapshots.erase(name);
  }

  void do_add(SessionSpec spec) {
    do_remove(spec.name);
    const std::string name = spec.name;
    auto e = std::make_unique<Entry>(io, std::move(spec));
    const std::uint32_t disc = allocate_discriminator();
    e->engine = std::make_unique<Session>(e->spec.config, disc, rng());
    open_socket(*e);
    Entry& ref = *e;
    by_discriminator[disc] = e.get();
    entries[name] = std::move(e);
    log(LogLevel::info, name,
        fmt::format("BFD session to {} from {} port {}: min TX {} us, min RX {} us, multiplier {}",
                    ref.spec.remote.to_string(), ref.spec.local ? ref.spec.local->to_string() : "(route)",
                    ref.source_port, ref.spec.config.desired_min_tx.count(), ref.spec.config.required_min_rx.count(),
                    ref.spec.config.detect_mult));
    apply(ref, ref.engine->start(asio::steady_timer::clock_type::now()));
  }

  void do_shutdown() {
    std::vector<std::string> names;
    for (const auto& [name, e] : entries) names.push_back(name);
    for (const auto& n : names) do_remove(n);
    for (auto& l : listeners) {
      boost::system::error_code ignored;
      l->close(ignored);
    }
    listeners.clear();
  }
};

Runtime::Runtime(asio::io_context& main, RuntimeSettings settings, RuntimeObserver observer)
    : impl_(std::make_shared<Impl>(main, std::move(settings), std::move(observer))) {}

Runtime::~Runtime() {
  stop();
  impl_->observer.reset();
}

std::vector<std::string> Runtime::start() {
  if (impl_->running) return {};
  impl_->running = true;
  // Listeners are opened before the thread runs, so start() can report their errors.
  auto errors = impl_->open_listeners();
  for (auto& l : impl_->listeners) impl_->wait_read(l.get());
  impl_->guard.emplace(impl_->io.get_executor());
  // The thread itself starts from the main loop's first turn, not here: a daemon started as
  // root drops its privileges between set-up and running the loop, and capabilities are per
  // thread, so until then the process must stay single-threaded. Sessions added meanwhile wait
  // in the BFD io_context's queue.
  asio::post(impl_->main, [weak = std::weak_ptr<Impl>(impl_)] {
    auto impl = weak.lock();
    if (!impl || !impl->running || impl->thread.joinable()) return;
    impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  });
  return errors;
}

void Runtime::add(SessionSpec spec) {
  asio::post(impl_->io, [impl = impl_.get(), spec = std::move(spec)]() mutable { impl->do_add(std::move(spec)); });
}

void Runtime::remove(const std::string& name) {
  asio::post(impl_->io, [impl = impl_.get(), name] { impl->do_remove(name); });
}

void Runtime::stop(std::chrono::milliseconds limit) {
  if (!impl_->running) return;
  impl_->running = false;
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl_->io, [impl = impl_.get(), done] {
    impl->do_shutdown();
    done->set_value();
  });
  impl_->guard.reset();
  if (!impl_->thread.joinable()) {
    // The main loop never ran, so the thread never started: shut down on this thread.
    impl_->io.run_for(limit);
    return;
  }
  // A BFD thread that does not finish in time is stopped hard: its sessions just go quiet.
  if (finished.wait_for(limit) != std::future_status::ready) impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::vector<SessionSnapshot> Runtime::sessions() const {
  std::lock_guard lock(impl_->mu);
  std::vector<SessionSnapshot> out;
  for (const auto& [name, s] : impl_->snapshots) out.push_back(s);
  return out;
}

std::optional<SessionSnapshot> Runtime::session(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->snapshots.find(name);
  if (it == impl_->snapshots.end()) return std::nullopt;
  return it->second;
}

DropCounters Runtime::dropped() const {
  std::lock_guard lock(impl_->mu);
  return impl_->drops;
}

std::vector<Endpoint> Runtime::listening() const {
  std::lock_guard lock(impl_->mu);
  return impl_->bound;
}

}  // namespace herald::bgp::bfd
