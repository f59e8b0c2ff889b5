#pragma once
/// \file
/// \brief Parsing the run configuration (TOML, DESIGN.md "Config") into RunConfig
/// (driver/config.hpp). Unknown keys and wrong types are ConfigErrors naming the key and line;
/// relative paths resolve against the config's folder.
#include <filesystem>
#include <string>
#include <vector>

#include "cleanmix/driver/config.hpp"

namespace cleanmix {

/// \brief Parse and validate a config file, applying `key=value` overrides (TOML values; a bare
/// word is taken as a string). Throws ConfigError naming the key and line on any problem.
RunConfig loadConfig(const std::filesystem::path& file, const std::vector<std::string>& overrides);

/// \brief Same, from text (tests). `baseDir` resolves relative paths.
RunConfig parseConfig(const std::string& text, const std::filesystem::path& baseDir,
                      const std::string& displayName,
                      const std::vector<std::string>& overrides = {});

}  // namespace cleanmix
