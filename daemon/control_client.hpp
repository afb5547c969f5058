// The client side of the control protocol (used by heraldctl and by tests): a blocking
// connection to the daemon's Unix socket that sends request lines and reads reply lines.
#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/expected.hpp"
#include "daemon/control_protocol.hpp"

namespace herald::control {

class Client {
 public:
  // Connects to the socket at `path`, giving up after `timeout` (zero: no limit) when herald's
  // backlog is full. The error names the path and says whether herald is running, e.g.
  // "cannot connect to /run/herald/control.sock: no such socket: herald is not running, or it
  // uses another control-socket (see --socket)".
  static Expected<Client, std::string> connect(const std::filesystem::path& path,
                                               std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // Gives up on a reply after `timeout` (zero: wait forever, as the event stream needs).
  void set_timeout(std::chrono::milliseconds timeout);

  // Sends `line` (a newline is added if missing).
  Expected<bool, std::string> send_line(std::string_view line);
  // The next line without its newline; nullopt when the daemon closed the connection.
  Expected<std::optional<std::string>, std::string> read_line();
  // Half-closes: tells the daemon no more requests follow (replies and events still arrive).
  void close_send();
  // Sends one command and returns the parsed reply object (which may be {"ok":false,...}).
  Expected<nlohmann::json, std::string> request(const Command& cmd);

 private:
  explicit Client(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string buf_;
  std::string path_;                      // for error messages
  std::chrono::milliseconds timeout_{0};  // for error messages
};

}  // namespace herald::control
