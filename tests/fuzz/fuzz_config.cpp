// libFuzzer target: conf::load_string over arbitrary bytes must return a Config or errors,
// never crash, hang or leak. Whatever loads must also dump to text that loads again to an
// equal Config (the --dump-config contract), except for redacted inline passwords.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "conf/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = herald::conf::load_string(text, "fuzz.toml");
  if (!r) {
    if (r.error().empty()) std::abort();  // a failure always says why
    for (const auto& e : r.error()) (void)e.to_string();
    return 0;
  }
  herald::conf::Config expected = *r;
  for (auto& p : expected.peers)
    if (!p.md5_password.empty() && !p.md5_password_file) p.md5_password = "<redacted>";
  auto again = herald::conf::load_string(herald::conf::dump(*r), "dump.toml");
  if (!again || !(*again == expected)) std::abort();  // dump must round-trip
  return 0;
}
