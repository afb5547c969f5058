#include "daemon/control_client.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace herald::control {

Expected<Client, std::string> Client::connect(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::string& p = path.native();
  if (p.empty() || p.size() >= sizeof sa.sun_path) {
    return unexpected(fmt::format("cannot connect to {}: path is empty or longer than {} bytes", p,
                                  sizeof sa.sun_path - 1));
  }
  std::memcpy(sa.sun_path, p.c_str(), p.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(fmt::format("cannot connect to {}: socket: {}", p, std::strerror(errno)));
  Client c(fd);
  // A Unix socket's connect() waits for room in the listener's backlog for SO_SNDTIMEO.
  c.set_timeout(timeout);
  int r;
  do {
    r = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int err = errno;
    switch (err) {
      case ENOENT:
        return unexpected(fmt::format(
            "cannot connect to {}: no such socket: herald is not running, or it uses another "
            "control-socket (see --socket)",
            p));
      case ECONNREFUSED:
        return unexpected(fmt::format(
            "cannot connect to {}: the socket exists but nothing listens: herald is not running "
            "(the socket was left by a herald that ended)",
            p));
      case EACCES:
      case EPERM:
        return unexpected(fmt::format(
            "cannot connect to {}: permission denied: run heraldctl as root or as a member of the "
            "socket's group (global.control-group)",
            p));
      case EAGAIN:
      case ETIMEDOUT:
        return unexpected(fmt::format(
            "cannot connect to {}: herald is running but did not accept the connection within {} ms "
            "(see its log; --timeout sets the limit)",
            p, timeout.count()));
      default:
        return unexpected(fmt::format("cannot connect to {}: {}", p, std::strerror(err)));
    }
  }
  c.path_ = p;
  c.timeout_ = timeout;
  return c;
}

Client::Client(Client&& other) noexcept
    : fd_(other.fd_), buf_(std::move(other.buf_)), path_(std::move(other.path_)), timeout_(other.timeout_) {
  other.fd_ = -1;
}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    buf_ = std::move(other.buf_);
    path_ = std::move(other.path_);
    timeout_ = other.timeout_;
    other.fd_ = -1;
  }
  return *this;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

void Client::set_timeout(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Expected<bool, std::string> Client::send_line(std::string_view line) {
  std::string out(line);
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return unexpected(fmt::format("sending to herald: {}", std::strerror(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

Expected<std::optional<std::string>, std::string> Client::read_line() {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return std::optional(std::move(line));
    }
    // Replies are bounded like requests (a status of thousands of services is well below).
    if (buf_.size() > 64 * kMaxLineBytes) {
      return unexpected(std::string("reading from herald: reply line too long"));
    }
    char chunk[8192];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return unexpected(fmt::format(
            "herald at {} did not reply within {} ms: it is running but busy or stuck (see its log; "
            "--timeout sets the limit)",
            path_, timeout_.count()));
      }
      return unexpected(fmt::format("reading from herald: {}", std::strerror(errno)));
    }
    if (n == 0) return std::optional<std::string>{};
    buf_.append(chunk, static_cast<std::size_t>(n));
  }
}

void Client::close_send() { ::shutdown(fd_, SHUT_WR); }

Expected<nlohmann::json, std::string> Client::request(const Command& cmd) {
  if (auto s = send_line(to_line(to_json(cmd))); !s) return unexpected(s.error());
  auto line = read_line();
  if (!line) return unexpected(line.error());
  if (!line->has_value()) {
    return unexpected(std::string("herald closed the connection without replying"));
  }
  auto j = nlohmann::json::parse(**line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return unexpected(std::string("herald sent a reply that is not a JSON object"));
  }
  return j;
}

}  // namespace herald::control
