// Where the fleet lives in etcd. Every key is under /herald/<fleet>/:
//   sites/<site>                   the site's published state (JSON, SiteState), under the site's lease
//   desired/<service>/site/<site>  a fleet drain of one site     } JSON, DesiredDrain; no lease: an
//   desired/<service>/region/<r>   a fleet drain of a region     } operator's wish outlives every
//   desired/<service>/all          a fleet drain of every site   } herald
//   floor/<service>/<site>         "withdrawn": the floor's ledger, one key per site that counts as
//                                  withdrawn (see floor.hpp); written by that site only, under its
//                                  lease when it has one. (floor/<service>, the one shared
//                                  ledger key of earlier heralds, is no longer read.)
//   index/<service>/<site>         "announced" or "not-announced": the site publishes the service;
//                                  under the site's lease, rewritten only when that flag changes, so
//                                  the floor reads one small prefix, not every site's whole state
//   members/<site>                 the fleet's record of the site (JSON, Member; see member.hpp), no
//                                  lease: a site whose lease expired shows as unknown
// The per-site etcd role of docs/fleet.md grants write on sites/<site>, members/<site>, and on
// index/<service>/<site> and floor/<service>/<site> of its services only, read on the rest.
#pragma once
#include <string>
#include <string_view>

namespace herald::fleet {

/// A fleet, site, region or service name: 1..64 of [A-Za-z0-9._-], so that no name can reach
/// into another's keys (no '/').
bool valid_name(std::string_view name);

class Keys {
 public:
  explicit Keys(std::string fleet) : root_("/herald/" + std::move(fleet) + "/") {}
  const std::string& root() const { return root_; }
  std::string sites_prefix() const { return root_ + "sites/"; }
  std::string site(std::string_view site) const { return sites_prefix() + std::string(site); }
  std::string desired_prefix() const { return root_ + "desired/"; }
  std::string desired_service_prefix(std::string_view service) const { return desired_prefix() + std::string(service) + "/"; }
  std::string desired_site(std::string_view service, std::string_view site) const { return desired_service_prefix(service) + "site/" + std::string(site); }
  std::string desired_region(std::string_view service, std::string_view region) const { return desired_service_prefix(service) + "region/" + std::string(region); }
  std::string desired_all(std::string_view service) const { return desired_service_prefix(service) + "all"; }
  std::string floors_prefix() const { return root_ + "floor/"; }
  std::string floor_prefix(std::string_view service) const { return floors_prefix() + std::string(service) + "/"; }
  std::string floor(std::string_view service, std::string_view site) const { return floor_prefix(service) + std::string(site); }
  std::string members_prefix() const { return root_ + "members/"; }
  std::string member(std::string_view site) const { return members_prefix() + std::string(site); }
  std::string index_prefix(std::string_view service) const { return root_ + "index/" + std::string(service) + "/"; }
  std::string index(std::string_view service, std::string_view site) const { return index_prefix(service) + std::string(site); }

 private:
  std::string root_;
};

}  // namespace herald::fleet
