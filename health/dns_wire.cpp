#include "health/dns_wire.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <random>

#include <fmt/format.h>
#include <ldns/ldns.h>

#include "health/format.hpp"

namespace herald::health {

namespace {

// RAII owners for ldns objects.
struct PktFree { void operator()(ldns_pkt* p) const { ldns_pkt_free(p); } };
struct RrFree { void operator()(ldns_rr* r) const { ldns_rr_free(r); } };
struct RdfFree { void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); } };
struct MallocFree { void operator()(void* p) const { std::free(p); } };
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Rr = std::unique_ptr<ldns_rr, RrFree>;
using Rdf = std::unique_ptr<ldns_rdf, RdfFree>;

// RFC 1035 4.1.1 header layout: ID(2) FLAGS(2) QDCOUNT ANCOUNT NSCOUNT ARCOUNT (2 each).
constexpr std::size_t kHeaderSize = 12;
constexpr std::uint8_t kQrBit = 0x80;   // first flags byte
constexpr std::uint8_t kTcBit = 0x02;   // first flags byte
constexpr std::uint8_t kOpcodeMask = 0x78;

std::string absolute(std::string name) {
  if (name.empty() || name.back() != '.') name += '.';
  return name;
}

std::string rcode_name(unsigned rcode) {
  if (const ldns_lookup_table* t = ldns_lookup_by_id(ldns_rcodes, static_cast<int>(rcode)); t && t->name)
    return t->name;
  return fmt::format("{}", rcode);
}

std::string rdata_text(const ldns_rr* rr) {
  std::string out;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    std::unique_ptr<char, MallocFree> s(ldns_rdf2str(ldns_rr_rdf(rr, i)));
    if (!out.empty()) out += ' ';
    out += s ? s.get() : "?";
  }
  return out;
}

// Equal RDATA: the same fields with the same wire bytes (what ldns_rdf_compare calls equal).
bool same_rdata(const ldns_rr* a, const DnsProbe::ExpectedRdata& want) {
  if (ldns_rr_rd_count(a) != want.fields.size()) return false;
  for (std::size_t i = 0; i < want.fields.size(); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(a, i);
    const auto& w = want.fields[i];
    if (!f || ldns_rdf_size(f) != w.size() || !std::equal(w.begin(), w.end(), ldns_rdf_data(f))) return false;
  }
  return true;
}

// Is the (single) question of `pkt` ours? RFC 5452 9.1: id, question and source must match.
bool question_matches(const ldns_pkt* pkt, const DnsQuestion& q) {
  if (ldns_pkt_qdcount(pkt) != 1) return false;
  const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
  if (!rr) return false;
  Rdf want(ldns_dname_new_frm_str(q.qname.c_str()));
  return want && ldns_rr_get_type(rr) == q.qtype && ldns_rr_get_class(rr) == q.qclass &&
         ldns_dname_compare(ldns_rr_owner(rr), want.get()) == 0;
}

Rr expected_rr(const DnsProbe& probe, const std::string& value) {
  const char* type = ldns_rr_descript(probe.question.qtype) ? ldns_rr_descript(probe.question.qtype)->_name : nullptr;
  std::unique_ptr<char, MallocFree> cls(ldns_rr_class2str(static_cast<ldns_rr_class>(probe.question.qclass)));
  if (!type || !cls) return nullptr;
  const std::string text = fmt::format("{} 0 {} {} {}", probe.question.qname, cls.get(), type, value);
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) return nullptr;
  return Rr(rr);
}

// The judgement of a parsed reply to our question (rcode and answers), without the extras.
DnsVerdict judge_parsed(const ldns_pkt* pkt, const DnsProbe& probe);

}  // namespace

std::uint16_t random_dns_id() {
  // Drawn from the kernel CSPRNG 64 at a time: one system call per 64 probes instead of one per
  // probe (200 checks every 250 ms). Every id is used once and none is derived from another.
  static thread_local std::array<std::uint16_t, 64> pool;
  static thread_local std::size_t left = 0;
  if (left == 0 && getrandom(pool.data(), sizeof pool, 0) == static_cast<ssize_t>(sizeof pool))
    left = pool.size();
  if (left > 0) return pool[--left];
  static thread_local std::mt19937 fallback{std::random_device{}()};
  return static_cast<std::uint16_t>(fallback());
}

herald::Expected<DnsProbe, std::string> make_dns_probe(const DnsCheckSpec& spec, std::uint16_t id) {
  DnsProbe p;
  p.id = id;
  p.question.qname = absolute(spec.qname);
  p.question.qtype = ldns_get_rr_type_by_name(spec.qtype.c_str());
  if (p.question.qtype == 0) return herald::unexpected(fmt::format("unknown type {}", spec.qtype));
  p.question.qclass = ldns_get_rr_class_by_name(spec.qclass.c_str());
  if (p.question.qclass == 0) return herald::unexpected(fmt::format("unknown class {}", spec.qclass));
  for (const auto& name : spec.accepted_rcodes) {
    const ldns_lookup_table* t = ldns_lookup_by_name(ldns_rcodes, name.c_str());
    if (!t) return herald::unexpected(fmt::format("unknown rcode {}", name));
    p.accepted_rcodes.push_back(static_cast<std::uint16_t>(t->id));
  }
  if (p.accepted_rcodes.empty()) return herald::unexpected(std::string("no accepted rcode"));
  p.expect_answers = spec.expect_answers;
  p.require_answer = spec.require_answer;
  p.nsid = spec.nsid;
  if (spec.nsid && !spec.edns_udp_size) return herald::unexpected(std::string("nsid needs EDNS"));
  for (const auto& value : p.expect_answers) {
    const Rr want = expected_rr(p, value);
    if (!want) return herald::unexpected(fmt::format("bad expected answer '{}' for type {}", value, spec.qtype));
    DnsProbe::ExpectedRdata e{rdata_text(want.get()), {}};
    for (std::size_t i = 0; i < ldns_rr_rd_count(want.get()); ++i) {
      const ldns_rdf* f = ldns_rr_rdf(want.get(), i);
      e.fields.emplace_back(ldns_rdf_data(f), ldns_rdf_data(f) + ldns_rdf_size(f));
    }
    p.expected.push_back(std::move(e));
  }

  ldns_rdf* name = ldns_dname_new_frm_str(p.question.qname.c_str());
  if (!name) return herald::unexpected(fmt::format("bad name {}", spec.qname));
  // ldns_pkt_query_new takes ownership of `name`.
  Pkt pkt(ldns_pkt_query_new(name, static_cast<ldns_rr_type>(p.question.qtype),
                             static_cast<ldns_rr_class>(p.question.qclass),
                             spec.recursion_desired ? LDNS_RD : 0));
  if (!pkt) return herald::unexpected(std::string("cannot build query"));
  ldns_pkt_set_id(pkt.get(), id);
  if (spec.edns_udp_size) {
    // RFC 6891 6.2.5: values below 512 are treated as 512.
    ldns_pkt_set_edns_udp_size(pkt.get(), std::max<std::uint16_t>(*spec.edns_udp_size, 512));
    if (spec.nsid) {
      // RFC 5001 2.1: the request is the NSID option with an empty payload. ldns writes the
      // OPT RDATA as given; it takes ownership of the rdf.
      const auto opt = encode_edns_option(kEdnsOptionNsid);
      ldns_pkt_set_edns_data(pkt.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, opt.size(), opt.data()));
    }
  }
  uint8_t* buf = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&buf, pkt.get(), &size) != LDNS_STATUS_OK || !buf)
    return herald::unexpected(std::string("cannot encode query"));
  std::unique_ptr<uint8_t, MallocFree> owner(buf);
  p.wire.assign(buf, buf + size);
  return p;
}

DnsVerdict judge_dns_reply(std::span<const std::uint8_t> reply, const DnsProbe& probe) {
  using K = DnsVerdictKind;
  if (reply.size() < kHeaderSize) return {K::Ignore, "short message"};
  const std::uint16_t id = static_cast<std::uint16_t>(reply[0] << 8 | reply[1]);
  if (id != probe.id) return {K::Ignore, "wrong id"};
  if (!(reply[2] & kQrBit)) return {K::Ignore, "not a response"};
  if ((reply[2] & kOpcodeMask) != 0) return {K::Ignore, "wrong opcode"};
  const bool truncated = (reply[2] & kTcBit) != 0;

  ldns_pkt* raw = nullptr;
  ldns_status st = ldns_wire2pkt(&raw, reply.data(), reply.size());
  if (st != LDNS_STATUS_OK && truncated) {
    // A truncated reply may end inside a record (RFC 2181 9): judge just header + question.
    std::vector<std::uint8_t> head(reply.begin(), reply.end());
    std::fill(head.begin() + 6, head.begin() + kHeaderSize, std::uint8_t{0});  // AN/NS/AR = 0
    st = ldns_wire2pkt(&raw, head.data(), head.size());
  }
  Pkt pkt(raw);
  if (st != LDNS_STATUS_OK || !pkt) return {K::Ignore, fmt::format("malformed ({})", ldns_get_errorstr_by_id(st))};
  // Refusing servers (unbound's access-control "refuse", RFC 1035 4.1.1 leaves it open) often
  // send an error reply without the question; the random id and port are then all we can match.
  const bool bare_error = ldns_pkt_qdcount(pkt.get()) == 0 && ldns_pkt_get_rcode(pkt.get()) != LDNS_RCODE_NOERROR;
  if (!bare_error && !question_matches(pkt.get(), probe.question)) return {K::Ignore, "wrong question"};
  if (truncated) return {K::Truncated, "truncated"};
  DnsVerdict v = judge_parsed(pkt.get(), probe);
  if (v.kind == K::Pass || v.kind == K::Fail) {
    if (probe.nsid) {
      if (const ldns_rdf* opt = ldns_pkt_edns_data(pkt.get()))
        v.nsid = find_edns_option({ldns_rdf_data(opt), ldns_rdf_size(opt)}, kEdnsOptionNsid);
    }
  }
  return v;
}

namespace {

DnsVerdict judge_parsed(const ldns_pkt* pkt, const DnsProbe& probe) {
  using K = DnsVerdictKind;

  // RFC 6891 6.1.3: the OPT record extends RCODE by 8 high bits.
  const unsigned rcode = (static_cast<unsigned>(ldns_pkt_edns_extended_rcode(pkt)) << 4) |
                         static_cast<unsigned>(ldns_pkt_get_rcode(pkt));
  if (std::find(probe.accepted_rcodes.begin(), probe.accepted_rcodes.end(), rcode) ==
      probe.accepted_rcodes.end())
    return {K::Fail, "rcode " + rcode_name(rcode)};

  // Answers of the asked type (a CNAME chain in front is allowed, RFC 1034 3.6.2).
  std::vector<const ldns_rr*> answers;
  const ldns_rr_list* an = ldns_pkt_answer(pkt);
  for (std::size_t i = 0; an && i < ldns_rr_list_rr_count(an); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(an, i);
    if (ldns_rr_get_type(rr) == probe.question.qtype && ldns_rr_get_class(rr) == probe.question.qclass)
      answers.push_back(rr);
  }
  if (probe.expected.size() != probe.expect_answers.size()) return {K::Fail, "bad expected answer"};  // not built by make_dns_probe
  if (!probe.expected.empty()) {
    // Every expected value must be among the answers (a site may serve several addresses).
    for (const auto& want : probe.expected) {
      const bool found = std::any_of(answers.begin(), answers.end(),
                                     [&](const ldns_rr* rr) { return same_rdata(rr, want); });
      if (found) continue;
      if (answers.empty()) return {K::Fail, fmt::format("no answer (expected {})", want.text)};
      std::string seen;
      for (const ldns_rr* rr : answers) {
        if (!seen.empty()) seen += ',';
        seen += rdata_text(rr);
      }
      return {K::Fail, fmt::format("answer {} != expected {}", seen, want.text)};
    }
    // The reason names the expected values (printed once in make_dns_probe): printing every
    // answer again on each pass cost more than the rest of the judgement.
    std::string found;
    for (const auto& want : probe.expected) {
      if (!found.empty()) found += ',';
      found += want.text;
    }
    if (answers.size() > probe.expected.size())
      found += fmt::format(" (+{} more)", answers.size() - probe.expected.size());
    return {K::Pass, "rcode " + rcode_name(rcode) + ", answer " + found};
  }
  if (probe.require_answer && answers.empty()) return {K::Fail, "no answer"};
  DnsVerdict v{K::Pass, fmt::format("rcode {}, {} answer(s)", rcode_name(rcode), answers.size())};
  // RFC 1035 3.3.13: SERIAL is the third field of SOA RDATA.
  if (probe.question.qtype == LDNS_RR_TYPE_SOA && !answers.empty() && ldns_rr_rd_count(answers.front()) >= 3) {
    const ldns_rdf* serial = ldns_rr_rdf(answers.front(), 2);
    if (serial && ldns_rdf_get_type(serial) == LDNS_RDF_TYPE_INT32) v.soa_serial = ldns_rdf2native_int32(serial);
  }
  return v;
}

}  // namespace

std::vector<std::uint8_t> encode_edns_option(std::uint16_t code, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> out;
  out.reserve(4 + data.size());
  out.push_back(static_cast<std::uint8_t>(code >> 8));
  out.push_back(static_cast<std::uint8_t>(code & 0xff));
  out.push_back(static_cast<std::uint8_t>(data.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(data.size() & 0xff));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::optional<std::vector<std::uint8_t>> find_edns_option(std::span<const std::uint8_t> rdata, std::uint16_t code) {
  // RFC 6891 6.1.2: {OPTION-CODE(2), OPTION-LENGTH(2), OPTION-DATA(OPTION-LENGTH)}*.
  while (rdata.size() >= 4) {
    const std::uint16_t c = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
    const std::size_t len = static_cast<std::size_t>(rdata[2] << 8 | rdata[3]);
    if (rdata.size() - 4 < len) return std::nullopt;  // runs past the RDATA
    const auto data = rdata.subspan(4, len);
    if (c == code) return std::vector<std::uint8_t>(data.begin(), data.end());
    rdata = rdata.subspan(4 + len);
  }
  return std::nullopt;
}

std::string nsid_text(std::span<const std::uint8_t> nsid) {
  const bool printable = std::all_of(nsid.begin(), nsid.end(), [](std::uint8_t b) { return b >= 0x20 && b < 0x7f; });
  if (printable && !nsid.empty()) return std::string(nsid.begin(), nsid.end());
  std::string out = "0x";
  for (std::uint8_t b : nsid) out += fmt::format("{:02x}", b);
  return out;
}

std::optional<std::string> rtt_violation(Duration rtt, std::optional<Duration> bound) {
  if (!bound || rtt <= *bound) return std::nullopt;
  return fmt::format("rtt {} > {}", format_duration(rtt), format_duration(*bound));
}

}  // namespace herald::health
