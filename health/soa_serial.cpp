#include "health/soa_serial.hpp"

#include <fmt/format.h>

#include "health/format.hpp"

namespace herald::health {

namespace {
constexpr std::uint32_t kHalf = 0x80000000u;  // 2^(SERIAL_BITS - 1), RFC 1982 3.2
}

SerialOrder serial_compare(std::uint32_t a, std::uint32_t b) {
  if (a == b) return SerialOrder::Equal;
  // Unsigned subtraction is the modulo-2^32 distance the RFC's two cases describe.
  const std::uint32_t forward = b - a;  // how far b is ahead of a
  if (forward == kHalf) return SerialOrder::Undefined;
  return forward < kHalf ? SerialOrder::Less : SerialOrder::Greater;
}

std::optional<std::uint32_t> serial_lag(std::uint32_t local, std::uint32_t primary) {
  switch (serial_compare(local, primary)) {
    case SerialOrder::Less: return primary - local;
    case SerialOrder::Equal:
    case SerialOrder::Greater: return 0;
    case SerialOrder::Undefined: return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::chrono::system_clock::time_point> serial_time(std::uint32_t serial, SerialFormat format) {
  using namespace std::chrono;
  switch (format) {
    case SerialFormat::Unixtime: return system_clock::time_point(seconds(serial));
    case SerialFormat::Date: {
      const std::uint32_t ymd = serial / 100;  // YYYYMMDDnn: nn counts the day's changes
      const year_month_day day{year(static_cast<int>(ymd / 10000)), month(ymd / 100 % 100), std::chrono::day(ymd % 100)};
      if (ymd < 19700101 || !day.ok()) return std::nullopt;
      return time_point_cast<system_clock::duration>(sys_days(day));
    }
  }
  return std::nullopt;
}

Duration SerialWatch::observe(std::uint32_t serial, std::chrono::steady_clock::time_point now) {
  if (last_ != serial) {
    last_ = serial;
    since_ = now;
  }
  return now - since_;
}

CheckResult judge_soa(const SoaCheckSpec& spec, const SoaAnswer& local, const std::optional<SoaAnswer>& primary,
                      std::chrono::system_clock::time_point now, Duration unchanged_for) {
  CheckResult r;
  if (!local.serial) {
    r.reason = local.error.empty() ? "no SOA serial" : local.error;
    return r;
  }
  const std::uint32_t serial = *local.serial;
  r.serial = serial;
  std::string notes;
  if (!spec.primary.empty()) {
    if (!primary || !primary->serial) {
      // The lag cannot be judged: not a failure of this site (see SoaCheckSpec).
      notes = fmt::format(", primary not judged ({})", primary ? primary->error : std::string("not asked"));
    } else {
      const auto lag = serial_lag(serial, *primary->serial);
      if (!lag) {
        r.reason = fmt::format("serial {}, primary {}: 2^31 apart, order undefined (RFC 1982 3.2)", serial,
                               *primary->serial);
        return r;
      }
      if (*lag > spec.max_serial_lag) {
        r.reason = fmt::format("serial {}, primary {}: {} behind > max-serial-lag {}", serial, *primary->serial,
                               *lag, spec.max_serial_lag);
        return r;
      }
      notes = *lag == 0 ? fmt::format(", primary {}", *primary->serial)
                        : fmt::format(", primary {} ({} behind)", *primary->serial, *lag);
    }
  }
  if (spec.max_age) {
    const auto at = serial_time(serial, spec.serial_format);
    if (!at) {
      r.reason = fmt::format("serial {} is not a YYYYMMDDnn date", serial);
      return r;
    }
    const auto age = std::chrono::duration_cast<Duration>(now - *at);
    if (age > *spec.max_age) {
      r.reason = fmt::format("serial {} is {} old > max-age {}", serial, format_duration(age),
                             format_duration(*spec.max_age));
      return r;
    }
    notes += age > Duration::zero() ? fmt::format(", {} old", format_duration(age)) : std::string(", in the future");
  }
  if (spec.max_unchanged) {
    if (unchanged_for > *spec.max_unchanged) {
      r.reason = fmt::format("serial {} unchanged for {} > max-unchanged {}", serial, format_duration(unchanged_for),
                             format_duration(*spec.max_unchanged));
      return r;
    }
    notes += fmt::format(", unchanged for {}", format_duration(unchanged_for));
  }
  r.pass = true;
  r.reason = fmt::format("serial {}{}", serial, notes);
  return r;
}

}  // namespace herald::health
