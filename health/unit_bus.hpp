// The D-Bus side of the process check that follows a systemd unit, behind a small interface so
// that the watch (process_check.cpp) is tested with a fake bus. The real one talks to systemd
// over the system bus with libsystemd's sd-bus, its socket waited on by Asio.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "base/asio.hpp"
#include "base/expected.hpp"
#include "health/check_spec.hpp"
#include "health/unit_tracker.hpp"

namespace herald::health {

class UnitBus {
 public:
  using ReadDone = std::function<void(herald::Expected<UnitState, std::string>)>;
  virtual ~UnitBus() = default;
  /// Reads the unit's LoadState, ActiveState and MainPID, first connecting to the bus and
  /// subscribing to the unit's changes if not connected. `done` is called once, from the
  /// io_context (never from read()), within `timeout`; an error names the bus and what failed.
  /// One read at a time.
  virtual void read(Duration timeout, ReadDone done) = 0;
  /// Called with each change systemd announces for the unit (only the properties it carries).
  virtual void on_change(std::function<void(UnitState)> cb) = 0;
  /// Called when the connection is lost; the next read() connects again.
  virtual void on_lost(std::function<void(std::string reason)> cb) = 0;
  /// Disconnects; no callback afterwards.
  virtual void close() = 0;
};

/// The unit `unit` on the system bus (sd_bus_open_system(3): DBUS_SYSTEM_BUS_ADDRESS, else
/// /run/dbus/system_bus_socket).
std::unique_ptr<UnitBus> make_systemd_unit_bus(boost::asio::io_context& io, std::string unit);

}  // namespace herald::health
