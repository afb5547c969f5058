// The daemon's control socket: a Unix stream socket speaking the JSON-lines control protocol
// (daemon/control_protocol.hpp), on the daemon's Asio loop.
//
// - The socket file is created with a configured mode (default 0660) and, if given, group, so
//   access is granted by group membership. A socket file left by a dead daemon is removed; one
//   a live daemon listens on is not (start() fails instead), nor is any non-socket file.
// - Each connection is read line by line with a bounded line length; the peer's credentials
//   (SO_PEERCRED: uid, gid, pid) are taken at accept and passed with every command.
// - Every well-formed request goes to the handler, whose JSON object is the reply. A malformed
//   request gets {"ok":false,"error":...} without reaching the handler, and the connection stays
//   usable.
// - After a successful "events" request the connection also receives every publish()ed line.
//   A subscriber that does not read is disconnected once its queue passes a bound.
// - Connections are kept by a daemon::Listener (daemon/listener.hpp, a ConnectionTable): a client must send
//   a complete request line within `request_timeout` of connecting or of its last reply, and
//   take its reply within the same time (subscribers are exempt); a full table makes room for a
//   newcomer by closing an idle connection (of the process holding the most, its oldest). So
//   idle clients cannot lock the operator out. Every connection dropped so is reported to
//   `on_drop`.
// All member functions must be called on the io_context's thread; call stop() before the
// io_context is destroyed (open connections and the server keep each other alive until then).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/expected.hpp"
#include "base/asio.hpp"
#include "daemon/listener.hpp"
#include "daemon/control_protocol.hpp"

namespace herald::control {

// Who sent a command, as the kernel reports it for the connection (SO_PEERCRED).
struct Caller {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
};

// The gid of a group name from the system's group database; the error names the group.
Expected<gid_t, std::string> lookup_group(std::string_view name);

// The directory of the control socket at `socket`, when it is the socket's own: it holds no
// other entry and is neither sticky nor writable by others (not a /tmp). Such a directory may
// be given to the user herald runs as, as systemd's RuntimeDirectory= does for the packaged
// unit, so that herald can still remove its socket at exit after dropping root. Otherwise a
// sentence saying why not, e.g. "/run holds other files".
Expected<std::filesystem::path, std::string> own_socket_directory(const std::filesystem::path& socket);

class Server : public std::enable_shared_from_this<Server> {
 public:
  struct Options {
    std::filesystem::path path{std::string(kDefaultSocketPath)};
    mode_t mode = 0660;
    std::optional<gid_t> group;               // chown the socket to this group
    std::size_t max_line_bytes = kMaxLineBytes;
    std::size_t max_connections = 64;         // beyond: an idle one is closed (see above)
    std::size_t max_queued_bytes = 1 << 20;   // per connection, unsent replies and events
    // For a complete request line after connecting or after the last reply, and again for the
    // client to take its reply.
    std::chrono::milliseconds request_timeout = std::chrono::seconds(3);
    // Told about every connection the server drops for want of room or time, with a sentence
    // saying why (ConnectionTable::explain) and its caller.
    std::function<void(daemon::DropReason, const std::string& why, const Caller&)> on_drop;
  };
  // Answers one parsed command. Returns the reply object: control::ok_response(...) or
  // control::error_response(...). Exceptions become an error reply.
  using Handler = std::function<nlohmann::json(const Command&, const Caller&)>;
  // A handler that may answer later ("drain --wait"): it calls `reply` once, now or from a
  // later event on the loop. Until then the connection has no reply deadline (the client's own
  // timeout bounds the wait); a client that goes away makes a later reply a no-op.
  using Reply = std::function<void(nlohmann::json)>;
  using AsyncHandler = std::function<void(const Command&, const Caller&, Reply reply)>;

  // Creates the socket file and starts accepting. The error names the path and the failed step,
  // e.g. "control socket /run/herald/control.sock: another process is listening on it".
  static Expected<std::shared_ptr<Server>, std::string> start(boost::asio::io_context& io,
                                                            Options options, Handler handler);
  static Expected<std::shared_ptr<Server>, std::string> start(boost::asio::io_context& io,
                                                            Options options, AsyncHandler handler);

  // Sends `event` as one line to every subscribed connection.
  void publish(const nlohmann::json& event);
  std::size_t subscribers() const;
  std::size_t connections() const { return listener_.size(); }
  // Connections dropped since start, by reason.
  const daemon::DropCounts& dropped() const { return listener_.dropped(); }

  // Stops accepting, closes every connection and removes the socket file if it is still ours.
  void stop();

  // Internal: use start().
  Server(boost::asio::io_context& io, Options options, AsyncHandler handler);
  ~Server();

 private:
  class Connection;
  using Id = daemon::ConnectionTable::Id;

  Options options_;
  AsyncHandler handler_;
  // Open connections, held until they close (a subscriber may sit idle for hours).
  daemon::Listener<boost::asio::local::stream_protocol, Connection, Caller> listener_;
  dev_t dev_ = 0;  // identity of the socket file we created, so stop() never removes another's
  ino_t ino_ = 0;
};

}  // namespace herald::control
