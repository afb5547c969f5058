#include "daemon/drain_wait.hpp"

#include <fmt/format.h>

namespace herald::daemon {

DrainWaits::Id DrainWaits::add(std::vector<std::string> services, Clock::duration settle, bool withdrawn_before,
                               Clock::time_point now) {
  Wait w;
  w.id = next_id_++;
  w.services = std::move(services);
  w.settle = withdrawn_before || w.services.empty() ? Clock::duration::zero() : settle;
  w.started = now;
  waits_.push_back(std::move(w));
  return waits_.back().id;
}

std::vector<DrainWaits::Done> DrainWaits::update(const Lookup& lookup, Clock::time_point now) {
  std::vector<Done> done;
  std::vector<Wait> keep;
  for (auto& w : waits_) {
    std::optional<std::string> broken;
    bool withdrawn = true;
    for (const auto& name : w.services) {
      auto v = lookup(name);
      if (!v) {
        broken = fmt::format("service {} was removed by a reload before its prefixes were withdrawn", name);
        break;
      }
      if (!v->drained) {
        // Undrained (or Down, whose withdrawal is no drain) while waiting: the wait cannot end.
        broken = fmt::format("service {} is no longer drained", name);
        break;
      }
      if (v->announced) withdrawn = false;
    }
    if (broken) {
      done.push_back({w.id, false, *broken});
      continue;
    }
    if (withdrawn && !w.withdrawn) w.withdrawn = now;
    if (!withdrawn) w.withdrawn.reset();  // announced again: the settle counts anew
    if (w.withdrawn && now >= *w.withdrawn + w.settle) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - w.started).count();
      const auto settle = std::chrono::duration_cast<std::chrono::milliseconds>(w.settle).count();
      done.push_back({w.id, true,
                      w.services.empty()
                          ? std::string("no service to wait for")
                          : fmt::format("withdrawn from every peer after {} ms (settle {} ms)", waited, settle)});
      continue;
    }
    keep.push_back(std::move(w));
  }
  waits_ = std::move(keep);
  return done;
}

std::optional<DrainWaits::Clock::time_point> DrainWaits::next_wakeup() const {
  std::optional<Clock::time_point> t;
  for (const auto& w : waits_)
    if (w.withdrawn) {
      const auto at = *w.withdrawn + w.settle;
      t = t ? std::min(*t, at) : at;
    }
  return t;
}

}  // namespace herald::daemon
