#pragma once
/// \file
/// \brief One input source of a run (a `[[sources]]` entry of the config; DESIGN.md "Data model").
#include <string>
#include <vector>

#include "cleanmix/core/types.hpp"

namespace cleanmix {

/// \brief One `[[sources]]` entry.
struct SourceConfig {
  std::string name;
  std::vector<std::string> paths;  ///< glob patterns, absolute after loading
  Provenance provenance = Provenance::Unknown;
  Role role = Role::Pool;
  std::string textKey = "text";
  /// Per-document metadata key naming the document's group (e.g. "genre") for the classifier's
  /// leave-one-group-out evaluation; "" = the source is one group, named after the source.
  std::string groupKey;
  std::string format = "jsonl";  ///< input format: the reader factory's key (io/reader.hpp)
};

}  // namespace cleanmix
