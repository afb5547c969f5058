// libFuzzer target over the control-protocol request parser. Any input must give a command or an
// error text (never a crash, leak or uncaught exception), and every accepted command must
// survive to_json() -> parse_request() unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "daemon/control_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto cmd = herald::control::parse_request(line);
  if (!cmd) {
    // The error goes back to the client: it must be sendable and non-empty.
    if (cmd.error().empty()) std::abort();
    (void)herald::control::to_line(herald::control::error_response(cmd.error()));
    return 0;
  }
  auto again = herald::control::parse_request(herald::control::to_line(herald::control::to_json(*cmd)));
  if (!again || !(*again == *cmd)) std::abort();
  return 0;
}
