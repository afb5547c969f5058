#include "daemon/state_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"

namespace herald::daemon {

using nlohmann::json;

namespace {

constexpr int kVersion = 1;

// A time in milliseconds from `v`, which holds milliseconds (unit 1) or, as herald wrote before
// it kept milliseconds, whole seconds (unit 1000); `what` names the field in the refusal. A value
// whose milliseconds do not fit 64 bits makes the file corrupt: multiplying would overflow.
Expected<std::int64_t, std::string> time_ms(const json& v, std::int64_t unit, const std::string& what) {
  if (!v.is_number_integer()) return unexpected(what + " must be an integer");
  auto n = whole_number<std::int64_t>(v);
  if (!n || *n > std::numeric_limits<std::int64_t>::max() / unit ||
      *n < std::numeric_limits<std::int64_t>::min() / unit)
    return unexpected(fmt::format("{} is out of range ({})", what, v.dump()));
  return *n * unit;
}

json drain_to_json(const PersistentState::DrainRecord& d) {
  json j = {{"reason", d.reason}, {"since_ms", d.since_ms}};
  if (d.fail_safe) j["fail_safe"] = true;
  return j;
}

Expected<PersistentState::DrainRecord, std::string> drain_from_json(const json& j,
                                                                   const std::string& where) {
  if (!j.is_object()) return unexpected(where + " must be an object");
  PersistentState::DrainRecord d;
  for (const auto& [k, v] : j.items()) {
    if (k == "reason") {
      if (!v.is_string()) return unexpected(where + ".reason must be a string");
      d.reason = v.get<std::string>();
    } else if (k == "since_ms" || k == "since") {  // since: whole seconds, written before since_ms
      auto ms = time_ms(v, k == "since" ? 1000 : 1, where + "." + k);
      if (!ms) return unexpected(ms.error());
      d.since_ms = *ms;
    } else if (k == "fail_safe") {
      if (!v.is_boolean()) return unexpected(where + ".fail_safe must be true or false");
      d.fail_safe = v.get<bool>();
    } else {
      return unexpected(fmt::format("{}: unknown field \"{}\"", where, k));
    }
  }
  return d;
}

Expected<PersistentState::Steering, std::string> steering_from_json(const json& j,
                                                                    const std::string& where) {
  if (!j.is_object()) return unexpected(where + " must be an object");
  PersistentState::Steering s;
  for (const auto& [k, v] : j.items()) {
    if (k == "prepend") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 16) {
        return unexpected(where + ".prepend must be an integer 0..16");
      }
      s.prepend = v.get<int>();
    } else if (k == "med") {
      if (!v.is_number_unsigned() ||
          v.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
        return unexpected(where + ".med must be an integer 0..4294967295");
      }
      s.med = v.get<std::uint32_t>();
    } else {
      return unexpected(fmt::format("{}: unknown field \"{}\"", where, k));
    }
  }
  return s;
}

Expected<PersistentState::FlapHold, std::string> flap_hold_from_json(const json& j,
                                                                     const std::string& where) {
  if (!j.is_object()) return unexpected(where + " must be an object");
  PersistentState::FlapHold h;
  bool has_until = false;
  for (const auto& [k, v] : j.items()) {
    if (k == "until") {
      if (!v.is_number_integer()) return unexpected(where + ".until must be an integer");
      h.until = v.get<std::int64_t>();
      has_until = true;
    } else if (k == "next_hold_ms") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
        return unexpected(where + ".next_hold_ms must be a non-negative integer");
      h.next_hold_ms = v.get<std::int64_t>();
    } else {
      return unexpected(fmt::format("{}: unknown field \"{}\"", where, k));
    }
  }
  if (!has_until) return unexpected(where + ".until is missing");
  return h;
}

std::string errno_text(int err) { return std::strerror(err); }

// "20261206T131313Z": sorts by time, no characters a shell or a file manager trips on.
// A map of drain records (by service, unit, peer or fleet key) as a JSON object, and back.
json drains_to_json(const std::map<std::string, PersistentState::DrainRecord>& drains) {
  json j = json::object();
  for (const auto& [name, d] : drains) j[name] = drain_to_json(d);
  return j;
}

Expected<std::map<std::string, PersistentState::DrainRecord>, std::string> drains_from_json(const json& j,
                                                                                        const std::string& key) {
  if (!j.is_object()) return unexpected(fmt::format("\"{}\" must be an object", key));
  std::map<std::string, PersistentState::DrainRecord> out;
  for (const auto& [name, dj] : j.items()) {
    auto d = drain_from_json(dj, key + "." + name);
    if (!d) return unexpected(d.error());
    out.emplace(name, std::move(d.value()));
  }
  return out;
}

std::string file_timestamp(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string encode_state(const PersistentState& state) {
  json j = {{"version", kVersion}, {"drained", json::object()}, {"steering", json::object()}};
  if (state.drain_all) j["drain_all"] = drain_to_json(*state.drain_all);
  for (const auto& [name, d] : state.drained) j["drained"][name] = drain_to_json(d);
  // Absent when empty: an older herald reads the file still.
  if (!state.unit_drains.empty()) j["unit_drains"] = drains_to_json(state.unit_drains);
  if (!state.disabled_peers.empty()) j["disabled_peers"] = drains_to_json(state.disabled_peers);
  if (!state.fleet_drains.empty()) j["fleet_drains"] = drains_to_json(state.fleet_drains);
  for (const auto& [name, s] : state.steering) {
    json o = {{"prepend", s.prepend}};
    if (s.med) o["med"] = *s.med;
    j["steering"][name] = o;
  }
  if (!state.drain_began.empty()) {
    j["drain_began_ms"] = json::object();
    for (const auto& [name, t] : state.drain_began) j["drain_began_ms"][name] = t;
  }
  if (!state.flap_holds.empty()) {
    j["flap_holds"] = json::object();
    for (const auto& [name, h] : state.flap_holds)
      j["flap_holds"][name] = {{"until", h.until}, {"next_hold_ms", h.next_hold_ms}};
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Expected<PersistentState, std::string> decode_state(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return unexpected(fmt::format("not valid JSON at byte {}", e.byte));
  } catch (const json::exception&) {
    return unexpected(std::string("not valid JSON: a number is out of range"));  // e.g. 1e999
  }
  if (!j.is_object()) return unexpected(std::string("top level is not an object"));
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != kVersion) {
    return unexpected(fmt::format("\"version\" is not {}", kVersion));
  }
  PersistentState st;
  for (const auto& [k, val] : j.items()) {
    if (k == "version") continue;
    if (k == "drain_all") {
      auto d = drain_from_json(val, "drain_all");
      if (!d) return unexpected(d.error());
      st.drain_all = std::move(d.value());
    } else if (k == "drained" || k == "unit_drains" || k == "disabled_peers" || k == "fleet_drains") {
      auto m = drains_from_json(val, k);
      if (!m) return unexpected(m.error());
      auto& into = k == "drained" ? st.drained : k == "unit_drains" ? st.unit_drains
                 : k == "disabled_peers" ? st.disabled_peers : st.fleet_drains;
      into = std::move(m.value());
    } else if (k == "steering") {
      if (!val.is_object()) return unexpected(std::string("\"steering\" must be an object"));
      for (const auto& [name, sj] : val.items()) {
        auto s = steering_from_json(sj, "steering." + name);
        if (!s) return unexpected(s.error());
        st.steering.emplace(name, std::move(s.value()));
      }
    } else if (k == "drain_began_ms" || k == "drain_began") {  // drain_began: seconds, before _ms
      const std::int64_t unit = k == "drain_began" ? 1000 : 1;
      if (!val.is_object()) return unexpected(fmt::format("\"{}\" must be an object", k));
      for (const auto& [name, t] : val.items()) {
        auto ms = time_ms(t, unit, k + "." + name);
        if (!ms) return unexpected(ms.error());
        st.drain_began.emplace(name, *ms);
      }
    } else if (k == "flap_holds") {
      if (!val.is_object()) return unexpected(std::string("\"flap_holds\" must be an object"));
      for (const auto& [name, hj] : val.items()) {
        auto h = flap_hold_from_json(hj, "flap_holds." + name);
        if (!h) return unexpected(h.error());
        st.flap_holds.emplace(name, std::move(h.value()));
      }
    } else {
      return unexpected(fmt::format("unknown field \"{}\"", k));
    }
  }
  return st;
}

StateFile::StateFile(std::filesystem::path dir, FileFaultInjector inject)
    : dir_(std::move(dir)), path_(dir_ / kFileName), inject_(std::move(inject)) {}

LoadResult StateFile::load(std::chrono::system_clock::time_point now) const {
  LoadResult result;
  const std::string check_advice =
      "check it, re-apply the drains and steering overrides you want, then run \"heraldctl undrain --all\"";
  // The file exists but is no use: fail safe. Every service drained, with its drain-period
  // counted as over, until an operator has looked at the file. The file is moved aside under a
  // name of its own (never over an earlier copy: two bad files leave two copies), and the
  // fail-safe state saved in its place, or a restart would find no file and drain nothing.
  auto fail_safe = [&](const std::string& what, std::string_view tag) {
    result.state = PersistentState{};
    result.state.drain_all = PersistentState::DrainRecord{
        fmt::format("fail-safe: state file {} {} at start; check it, then run heraldctl undrain --all",
                    path_.string(), what),
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(), true};
    if (read_only_) {
      // A dry run fails safe the same way but leaves the file where it is, as it found it.
      result.problem = fmt::format("state file {} {}; every service starts drained and withdrawn "
                                   "(fail-safe); dry run: the file is left as it is",
                                   path_.string(), what);
      return result;
    }
    const std::string base = fmt::format("{}.{}-{}", path_.string(), tag, file_timestamp(now));
    std::filesystem::path kept = base;
    std::error_code ec;
    for (int i = 2; i < 1000 && std::filesystem::exists(kept, ec); ++i) kept = base + "-" + std::to_string(i);
    int err = fault("rename");
    if (err == 0 && (std::filesystem::exists(kept, ec) || ec)) err = ec ? ec.value() : EEXIST;
    if (err == 0 && ::rename(path_.c_str(), kept.c_str()) != 0) err = errno;
    const std::string head = fmt::format(
        "state file {} {}; every service starts drained and withdrawn (fail-safe) because the "
        "operator's drains are unknown; ",
        path_.string(), what);
    if (err != 0) {
      // Left in place: the next start finds it again and fails safe again.
      result.problem = head + fmt::format("it could not be moved to {} ({}); {}", kept.string(),
                                          errno_text(err), check_advice);
      return result;
    }
    result.problem = head + fmt::format("the file is kept as {}; {}", kept.string(), check_advice);
    if (auto save_err = save(result.state)) *result.problem += "; " + *save_err;
    return result;
  };
  auto unreadable = [&](std::string_view op, int err) {
    return fail_safe(fmt::format("cannot be read ({}: {})", op, errno_text(err)), "unreadable");
  };
  Fd f;
  int err = fault("open");
  if (err == 0) {
    f.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) err = errno;
  }
  if (err == ENOENT) return result;  // first start: nothing drained yet
  if (err != 0) return unreadable("open", err);

  std::string text;
  char buf[8192];
  for (;;) {
    err = fault("read");
    ssize_t n = err == 0 ? ::read(f.fd, buf, sizeof buf) : -1;
    if (n < 0) {
      if (err == 0) err = errno;
      if (err == EINTR) continue;
      return unreadable("read", err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxBytes) break;
  }

  Expected<PersistentState, std::string> decoded =
      text.size() > kMaxBytes
          ? Expected<PersistentState, std::string>(
                unexpected(fmt::format("larger than {} bytes", kMaxBytes)))
      : text.find_first_not_of(" \t\r\n") == std::string::npos
          ? Expected<PersistentState, std::string>(unexpected(std::string("empty")))
          : decode_state(text);
  if (!decoded) return fail_safe(fmt::format("is corrupt ({})", decoded.error()), "corrupt");
  result.state = std::move(decoded.value());
  return result;
}

std::optional<std::string> StateFile::save(const PersistentState& state) const {
  if (read_only_) return std::nullopt;  // dry run: the state lives in memory only
  const std::string text = encode_state(state);
  std::filesystem::path tmp = dir_ / (std::string(".") + std::string(kFileName) + ".tmp");
  auto failed = [&](std::string_view op, int err) {
    return fmt::format("cannot save state file {}: {}: {}", path_.string(), op, errno_text(err));
  };

  Fd f;
  int err = fault("open");
  if (err == 0) {
    // One daemon per state directory (the control socket guarantees it), so a fixed temporary
    // name is safe; O_TRUNC discards what a crash mid-save left behind.
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (f.fd < 0) err = errno;
  }
  if (err != 0) return failed("open", err);

  auto discard = [&](std::string_view op, int e) {
    ::unlink(tmp.c_str());
    return failed(op, e);
  };
  std::size_t done = 0;
  while (done < text.size()) {
    err = fault("write");
    ssize_t n = err == 0 ? ::write(f.fd, text.data() + done, text.size() - done) : -1;
    if (n < 0) {
      if (err == 0) err = errno;
      if (err == EINTR) continue;
      return discard("write", err);
    }
    done += static_cast<std::size_t>(n);
  }
  // Data must be on disk before the rename makes it the state file, or a crash could leave an
  // empty file under the real name.
  err = fault("fsync");
  if (err == 0 && ::fsync(f.fd) != 0) err = errno;
  if (err != 0) return discard("fsync", err);
  int fd = f.fd;
  f.fd = -1;
  if (::close(fd) != 0) return discard("close", errno);

  err = fault("rename");
  if (err == 0 && ::rename(tmp.c_str(), path_.c_str()) != 0) err = errno;
  if (err != 0) return discard("rename", err);

  // The rename is a change to the directory: fsync it so it survives a power cut.
  Fd d;
  err = fault("fsync dir");
  if (err == 0) {
    d.fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.fd < 0 || ::fsync(d.fd) != 0) err = errno;
  }
  if (err != 0) return failed("fsync dir", err);
  return std::nullopt;
}

}  // namespace herald::daemon
