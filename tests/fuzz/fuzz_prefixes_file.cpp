// libFuzzer target: the prefixes-file parser over arbitrary bytes must never crash or hang;
// every prefix it accepts has a position, is not a default route, and prints as text that
// parses back to the same prefix.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "conf/sections.hpp"
#include "conf/values.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace herald::conf;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  detail::Context ctx("fuzz.toml");
  ServiceConfig s;
  detail::ServicePositions pos;
  detail::parse_prefixes_text(ctx, "prefixes.txt", text, "service[0].prefixes-file", {1, 1}, s, pos);
  if (s.prefixes.size() != pos.prefixes.size() || s.file_prefixes != s.prefixes.size()) std::abort();
  if (!s.prefixes_file) std::abort();
  for (const auto& p : s.prefixes) {
    if (p.length == 0) std::abort();
    auto again = parse_prefix(p.to_string());
    if (!again || !(*again == p)) std::abort();
  }
  for (const auto& e : ctx.take_errors()) (void)e.to_string();
  return 0;
}
