// Inputs the fuzzer once broke (tests/data/regress/*.bin, same layout as the fuzz target:
// octet 0 = options, bit 0 four-octet AS, bit 1 iBGP; then the byte stream). Each must frame
// and decode without crashing, and whatever decodes cleanly must survive encode -> decode.
#include <filesystem>

#include "codec_test_util.hpp"

using namespace herald::bgp;
using namespace herald::bgp::test;

TEST_CASE("fuzzer regression inputs keep the round-trip property") {
  const auto dir = std::filesystem::path(HERALD_TEST_DATA) / "regress";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".bin") continue;
    ++files;
    CAPTURE(entry.path().filename().string());
    const Bytes input = read_file("regress/" + entry.path().filename().string());
    REQUIRE_FALSE(input.empty());
    CodecOptions opts;
    opts.four_octet_as = (input[0] & 1) != 0;
    opts.ibgp = (input[0] & 2) != 0;
    CodecOptions reencode = opts;
    reencode.extended_message = true;
    Framer framer;
    framer.append(ByteSpan(input).subspan(1));
    for (auto fr = framer.next(); fr.status == Framer::Status::Message; fr = framer.next()) {
      auto d = decode(fr.type, fr.body, opts);
      if (!d || d->action != ErrorAction::None) continue;
      const Bytes wire = encode(d->message, reencode);
      auto d2 = decode(fr.type, ByteSpan(wire).subspan(kHeaderSize), opts);
      REQUIRE(d2);
      CHECK(d2->action == ErrorAction::None);
      Message expected = d->message;
      if (auto* u = std::get_if<Update>(&expected)) {
        for (auto& r : u->attrs.unknown) {
          if ((r.flags & 0xC0) == 0xC0) r.flags |= attr_flags::kPartial;
        }
      }
      CHECK(d2->message == expected);
    }
  }
  CHECK(files > 0);
}
