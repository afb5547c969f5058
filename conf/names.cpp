// Config-file spellings of the enums (the same words the loader accepts).
#include "conf/config.hpp"

namespace herald::conf {

std::string_view to_string(LogFormat v) {
  switch (v) {
    case LogFormat::Auto: return "auto";
    case LogFormat::Text: return "text";
    case LogFormat::Json: return "json";
    case LogFormat::Journal: return "journal";
  }
  return "?";
}

std::string_view to_string(PeerMode v) {
  switch (v) {
    case PeerMode::Active: return "active";
    case PeerMode::Passive: return "passive";
    case PeerMode::Both: return "both";
  }
  return "?";
}

std::string_view to_string(BgpRole v) {
  switch (v) {
    case BgpRole::Provider: return "provider";
    case BgpRole::RouteServer: return "rs";
    case BgpRole::RouteServerClient: return "rs-client";
    case BgpRole::Customer: return "customer";
    case BgpRole::Peer: return "peer";
  }
  return "?";
}

std::string_view to_string(StartState v) { return v == StartState::Up ? "up" : "down"; }
std::string_view to_string(Combine v) { return v == Combine::Any ? "any" : "all"; }

std::string_view to_string(CheckType v) {
  switch (v) {
    case CheckType::Dns: return "dns";
    case CheckType::Tcp: return "tcp";
    case CheckType::Exec: return "exec";
    case CheckType::MaintenanceFile: return "maintenance-file";
    case CheckType::Process: return "process";
    case CheckType::Soa: return "soa";
  }
  return "?";
}

std::string_view to_string(SerialFormat v) { return v == SerialFormat::Date ? "date" : "unixtime"; }

std::string_view to_string(Action v) { return v == Action::Withdraw ? "withdraw" : "announce"; }

}  // namespace herald::conf
