// libFuzzer harness for the config parser and validator (src/cli/config.cpp): the input is the
// TOML text of a config, optionally followed by a line `#--set` and one `key=value` override per
// line after it (what `--set` passes). A bad config must raise cleanmix::ConfigError (or another
// cleanmix::Error, e.g. from reading a tokenizer model); nothing else may escape, crash, hang or
// trip a sanitizer. A config that parses must parse again, from the TOML the run records
// (effectiveToml, the output's root attribute `config`), to the same config.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/core/error.hpp"

using namespace cleanmix;

namespace {

// Relative paths resolve against this fixed, empty folder: the parser resolves paths lexically
// and only opens tokenizer model files, which are then missing (a fast ConfigError), so runs stay
// fast and independent of each other and of the machine.
const std::filesystem::path& baseDir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path d = std::filesystem::temp_directory_path() / "cleanmix-fuzz-config";
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // A TOML comment line separates the config from the overrides, so a seed without overrides
  // is an ordinary config file.
  constexpr std::string_view marker = "\n#--set\n";
  const std::size_t cut = in.rfind(marker);
  const std::string text(in.substr(0, cut));
  std::vector<std::string> overrides;
  if (cut != std::string_view::npos) {
    std::string_view rest = in.substr(cut + marker.size());
    while (!rest.empty() && overrides.size() < 8) {
      const std::size_t nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
  }
  RunConfig c;
  try {
    c = parseConfig(text, baseDir(), "fuzz.toml", overrides);
  } catch (const Error&) {
    return 0;  // ConfigError (or an Error reading a model): the documented outcome
  }
  // What a run records must be a config that yields the same run.
  RunConfig again;
  try {
    again = parseConfig(c.effectiveToml, baseDir(), "fuzz.toml");
  } catch (const Error& e) {
    std::fprintf(stderr, "effectiveToml does not parse again: %s\n%s\n", e.what(),
                 c.effectiveToml.c_str());
    __builtin_trap();
  }
  if (again.effectiveToml != c.effectiveToml || again.resultToml != c.resultToml) {
    std::fprintf(stderr, "effectiveToml parses to another config:\n%s\n---- parsed again:\n%s\n",
                 c.effectiveToml.c_str(), again.effectiveToml.c_str());
    __builtin_trap();
  }
  return 0;
}
