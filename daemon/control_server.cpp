#include "daemon/control_server.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

namespace herald::control {

namespace asio = boost::asio;
using asio::local::stream_protocol;
using daemon::ConnectionTable;
using daemon::DropReason;

Expected<gid_t, std::string> lookup_group(std::string_view name) {
  std::string n(name);
  std::vector<char> buf(16384);
  group gr{};
  group* result = nullptr;
  int err = ::getgrnam_r(n.c_str(), &gr, buf.data(), buf.size(), &result);
  if (err != 0) return unexpected(fmt::format("group \"{}\": {}", n, std::strerror(err)));
  if (result == nullptr) return unexpected(fmt::format("group \"{}\" does not exist", n));
  return result->gr_gid;
}

Expected<std::filesystem::path, std::string> own_socket_directory(const std::filesystem::path& socket) {
  const std::filesystem::path dir = socket.parent_path();
  struct stat st {};
  if (dir.empty() || ::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return unexpected(fmt::format("{} is not a directory", dir.string()));
  }
  if ((st.st_mode & (S_ISVTX | S_IWOTH)) != 0) {
    return unexpected(fmt::format("{} is sticky or writable by anyone", dir.string()));
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() != socket.filename()) {
      return unexpected(fmt::format("{} holds other files", dir.string()));
    }
  }
  if (ec) return unexpected(fmt::format("{}: {}", dir.string(), ec.message()));
  return dir;
}

// One client connection: reads request lines, queues replies and events in order.
class Server::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Server> server, Id id, stream_protocol::socket socket, Caller caller)
      : server_(std::move(server)), id_(id), socket_(std::move(socket)), caller_(caller) {}

  void start() { read(); }
  bool subscribed() const { return subscribed_; }

  void send(std::string line) {
    if (closed_) return;
    if (queued_bytes_ + line.size() > server_->options_.max_queued_bytes) {
      // A client that stops reading must not make the daemon buffer without bound.
      close();
      return;
    }
    queued_bytes_ += line.size();
    out_.push_back(std::move(line));
    if (!writing_) write_next();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    auto keep = shared_from_this();  // the listener's reference goes away below
    server_->listener_.close_connection(id_, socket_);
    out_.clear();
    queued_bytes_ = 0;
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
      if (ec || self->closed_) {
        // EOF: answer what is queued, then close; a subscriber keeps receiving events until a
        // write fails (a client may half-close after its "events" request).
        self->eof_ = true;
        if (!self->subscribed_ && !self->writing_) self->close();
        return;
      }
      self->consume(std::string_view(self->chunk_.data(), n));
      if (!self->closed_) self->read();
    });
  }

  void consume(std::string_view data) {
    const std::size_t max = server_->options_.max_line_bytes;
    while (!data.empty() && !closed_) {
      auto nl = data.find('\n');
      std::string_view part = data.substr(0, nl);
      if (discarding_) {
        // Skip the rest of an over-long line; the error was already sent.
        if (nl == std::string_view::npos) return;
        discarding_ = false;
      } else {
        line_.append(part);
        if (line_.size() > max + 1) {  // +1: a trailing '\r' is allowed
          line_.clear();
          answered();
          send(to_line(error_response(
              fmt::format("request line longer than {} KiB", max / 1024))));
          discarding_ = nl == std::string_view::npos;
          if (discarding_) return;
        } else if (nl != std::string_view::npos) {
          std::string line = std::move(line_);
          line_.clear();
          handle(line);
        }
      }
      if (nl == std::string_view::npos) return;
      data.remove_prefix(nl + 1);
    }
  }

  // A request is complete: its reply must now be taken in time (a subscriber has no deadline).
  void answered() {
    using State = ConnectionTable::State;
    server_->listener_.set_state(id_, subscribed_ ? State::subscribed : State::replying);
  }

  void handle(std::string_view line) {
    answered();
    auto cmd = parse_request(line);
    if (!cmd) {
      send(to_line(error_response(cmd.error())));
      return;
    }
    const bool events = std::holds_alternative<Events>(*cmd);
    auto replied = std::make_shared<bool>(false);
    std::weak_ptr<Connection> weak = weak_from_this();
    Reply reply = [weak, replied, events](nlohmann::json r) {
      if (*replied) return;
      *replied = true;
      auto self = weak.lock();
      if (self && !self->closed_) self->finish(std::move(r), events);
    };
    try {
      server_->handler_(*cmd, caller_, reply);
    } catch (const std::exception& e) {
      reply(error_response(fmt::format("internal error: {}", e.what())));
    }
    // A deferred reply: no reply deadline meanwhile (exempt like a subscriber).
    if (!*replied && !closed_) server_->listener_.set_state(id_, ConnectionTable::State::subscribed);
  }

  void finish(nlohmann::json reply, bool events) {
    if (!reply.is_object()) reply = error_response("internal error: handler reply is not an object");
    if (!subscribed_) server_->listener_.set_state(id_, ConnectionTable::State::replying);
    if (events) {
      auto ok = reply.find("ok");
      if (ok != reply.end() && ok->is_boolean() && ok->get<bool>() && !subscribed_) {
        subscribed_ = true;
        server_->listener_.set_state(id_, ConnectionTable::State::subscribed);
      }
    }
    send(to_line(reply));
  }

  void write_next() {
    if (out_.empty() || closed_) {
      writing_ = false;
      if (eof_ && !subscribed_) {
        close();
      } else if (!closed_ && !subscribed_) {
        // Every reply taken: the client has the request timeout for its next request.
        server_->listener_.set_state(id_, ConnectionTable::State::waiting);
      }
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec || self->closed_) {
                          self->writing_ = false;
                          self->close();
                          return;
                        }
                        self->queued_bytes_ -= self->out_.front().size();
                        self->out_.pop_front();
                        self->write_next();
                      });
  }

  std::shared_ptr<Server> server_;
  Id id_;
  stream_protocol::socket socket_;
  Caller caller_;
  std::array<char, 4096> chunk_{};
  std::string line_;
  bool discarding_ = false;
  bool subscribed_ = false;
  bool writing_ = false;
  bool eof_ = false;
  bool closed_ = false;
  std::deque<std::string> out_;
  std::size_t queued_bytes_ = 0;
};

Server::Server(asio::io_context& io, Options options, AsyncHandler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      listener_(io, {options_.max_connections, options_.request_timeout},
                {[](stream_protocol::socket& socket) {
                   Caller caller;
                   ucred cred{};
                   socklen_t len = sizeof cred;
                   if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                     caller = Caller{cred.uid, cred.gid, cred.pid};
                   }
                   // Clients are told apart by process: a flooding process evicts its own connections.
                   return std::pair{fmt::format("pid {}", caller.pid), caller};
                 },
                 [this](Id id, stream_protocol::socket socket, const Caller& caller) {
                   return std::make_shared<Connection>(shared_from_this(), id, std::move(socket), caller);
                 },
                 [this](DropReason r, const std::string& why, const Caller& who) {
                   if (options_.on_drop) options_.on_drop(r, why, who);
                 }}) {}

Server::~Server() = default;

namespace {

// Whether a process accepts connections on the Unix socket at `path` right now.
bool someone_listens(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return up;
}

}  // namespace

Expected<std::shared_ptr<Server>, std::string> Server::start(asio::io_context& io,
                                                            Options options, Handler handler) {
  return start(io, std::move(options),
               AsyncHandler([h = std::move(handler)](const Command& c, const Caller& who, Reply reply) {
                 reply(h(c, who));
               }));
}

Expected<std::shared_ptr<Server>, std::string> Server::start(asio::io_context& io,
                                                            Options options, AsyncHandler handler) {
  const std::string path = options.path.string();
  auto fail = [&](std::string_view what) {
    return unexpected(fmt::format("control socket {}: {}", path, what));
  };
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(fmt::format("path is empty or longer than {} bytes",
                            sizeof(sockaddr_un{}.sun_path) - 1));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail("exists and is not a socket; not removing it");
    if (someone_listens(path)) return fail("another process is listening on it");
    // A socket file nobody accepts on: left by a daemon that died.
    if (::unlink(path.c_str()) != 0) {
      return fail(fmt::format("removing stale socket: {}", std::strerror(errno)));
    }
  } else if (errno != ENOENT) {
    return fail(fmt::format("lstat: {}", std::strerror(errno)));
  }

  auto server = std::make_shared<Server>(io, std::move(options), std::move(handler));
  auto& acc = server->listener_.acceptor();
  boost::system::error_code ec;
  acc.open(stream_protocol(), ec);
  if (ec) return fail(fmt::format("socket: {}", ec.message()));
  acc.bind(stream_protocol::endpoint(path), ec);
  if (ec) return fail(fmt::format("bind: {}", ec.message()));
  // Permissions are set between bind and listen: until listen() nobody can connect, so there is
  // no window in which the socket is reachable with the umask's mode.
  auto undo = [&](std::string_view step, int err) {
    ::unlink(path.c_str());
    return fail(fmt::format("{}: {}", step, std::strerror(err)));
  };
  if (::chmod(path.c_str(), server->options_.mode) != 0) return undo("chmod", errno);
  if (server->options_.group &&
      ::chown(path.c_str(), static_cast<uid_t>(-1), *server->options_.group) != 0) {
    return undo(fmt::format("chown to gid {}", *server->options_.group), errno);
  }
  if (::lstat(path.c_str(), &st) != 0) return undo("lstat", errno);
  server->dev_ = st.st_dev;
  server->ino_ = st.st_ino;
  acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return fail(fmt::format("listen: {}", ec.message()));
  }
  server->listener_.start(server);
  return server;
}

void Server::publish(const nlohmann::json& event) {
  if (listener_.stopped()) return;
  std::string line = to_line(event);
  // connections() is a copy: send() may close a slow subscriber without disturbing the loop.
  for (auto& c : listener_.connections()) {
    if (c->subscribed()) c->send(line);
  }
}

std::size_t Server::subscribers() const {
  std::size_t n = 0;
  for (const auto& c : listener_.connections()) {
    if (c->subscribed()) ++n;
  }
  return n;
}

void Server::stop() {
  if (listener_.stopped()) return;
  listener_.stop();
  // Remove the file only if it is still the one we created (a new daemon may own the path now).
  struct stat st {};
  const std::string path = options_.path.string();
  if (::lstat(path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(path.c_str());
  }
}

}  // namespace herald::control
