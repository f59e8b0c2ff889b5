#pragma once
/// \file
/// \brief Enumerations of the data model (DESIGN.md "Data model"). Stored in HDF5 as uint8 codes
/// in the order listed here, with the names in a `labels` attribute.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cleanmix {

enum class Provenance : std::uint8_t {
  HumanVerified = 0,
  HumanUnverified = 1,
  SyntheticKnown = 2,
  SyntheticSuspected = 3,
  Unknown = 4,
};
inline constexpr int kNumProvenance = 5;

enum class Role : std::uint8_t { Anchor = 0, Pool = 1, Benchmark = 2 };
inline constexpr int kNumRoles = 3;

enum class Verdict : std::uint8_t {
  Keep = 0,
  Duplicate = 1,
  Contaminated = 2,
  LowQuality = 3,
  SyntheticCapped = 4,
  Anchor = 5,
  Benchmark = 6,
};
inline constexpr int kNumVerdicts = 7;

/// \brief Labels in code order, as written to the `labels` attributes.
const std::vector<std::string>& provenanceLabels();
const std::vector<std::string>& roleLabels();
const std::vector<std::string>& verdictLabels();

std::optional<Provenance> parseProvenance(std::string_view s);
std::optional<Role> parseRole(std::string_view s);
std::string_view toString(Provenance p);
std::string_view toString(Role r);

}  // namespace cleanmix
