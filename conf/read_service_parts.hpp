// Internal to conf/: readers of the parts of a [[service]] that live in their own files.
#pragma once
#include "conf/config.hpp"
#include "conf/reader.hpp"

namespace herald::conf::detail {

// One [[service.check]]. `service` gives the defaults (first prefix address, timeout).
// Returns false when the check is unusable (its type is missing or unknown).
bool read_check(TableReader& r, CheckConfig& c, const ServiceConfig& service);

// [service.policy] with its up / down / drained tables.
void read_policy(TableReader& r, ServicePolicy& p);

// One state's policy table (action, med, prepend, communities, large-communities).
void read_state_policy(TableReader& r, StatePolicy& sp);

// [service.fleet] with its held table.
void read_service_fleet(TableReader& r, ServiceFleet& f);

}  // namespace herald::conf::detail
