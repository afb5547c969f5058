// The client side of the control protocol (used by heraldctl and by tests): a blocking
// connection to the daemon's Unix socket that sends request lines and reads reply lines.
#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bgp/expected.hpp"
#include "daemon/control_protocol.hpp"

namespace herald::control {

class Client {
 public:
  // Connects to the socket at `path`. The error names the path and says what to check, e.g.
  // "cannot connect to /run/herald/control.sock: No such file or directory (is herald running?)".
  static Expected<Client, std::string> connect(const std::filesystem::path& path);

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
};

}  // namespace herald::control
