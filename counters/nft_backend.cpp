#include "counters/nft_backend.hpp"

extern "C" {
#include <nftables/libnftables.h>
}

#include <string>

namespace herald::counters {

namespace {

std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class Libnftables final : public NftBackend {
 public:
  Libnftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_) {
      nft_ctx_buffer_output(ctx_);
      nft_ctx_buffer_error(ctx_);
    }
  }
  ~Libnftables() override {
    if (ctx_) nft_ctx_free(ctx_);
  }
  Libnftables(const Libnftables&) = delete;
  Libnftables& operator=(const Libnftables&) = delete;

  Expected<std::string, std::string> run(const std::string& script, bool json) override {
    if (!ctx_) return unexpected(std::string("libnftables: cannot create a context"));
    nft_ctx_output_set_flags(ctx_, json ? NFT_CTX_OUTPUT_JSON : 0);
    const int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
    // Reading the buffers also resets them for the next command.
    std::string out = trimmed(nft_ctx_get_output_buffer(ctx_));
    std::string err = trimmed(nft_ctx_get_error_buffer(ctx_));
    if (rc != 0) return unexpected(err.empty() ? std::string("nft failed without a message") : err);
    return out;
  }

 private:
  nft_ctx* ctx_;
};

}  // namespace

std::unique_ptr<NftBackend> make_libnftables_backend() { return std::make_unique<Libnftables>(); }

std::optional<std::string> QueryCounterTable::install(const std::vector<Target>& targets) {
  auto wanted = counters_of(targets);
  std::vector<std::string> existing;
  for (const auto& c : counters_) existing.push_back(c.name());
  auto r = nft_.run(install_script(wanted, existing, !installed_), false);
  if (!r) return r.error();
  counters_ = std::move(wanted);
  installed_ = true;
  return std::nullopt;
}

Expected<std::map<std::string, std::uint64_t>, std::string> QueryCounterTable::read() {
  auto r = nft_.run(list_script(), true);
  if (!r) return unexpected(r.error());
  return parse_counters(r.value());
}

std::optional<std::string> QueryCounterTable::remove() {
  if (!installed_) return std::nullopt;
  installed_ = false;
  counters_.clear();
  auto r = nft_.run(remove_script(), false);
  if (!r) return r.error();
  return std::nullopt;
}

}  // namespace herald::counters
