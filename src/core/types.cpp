#include "cleanmix/core/types.hpp"

namespace cleanmix {

const std::vector<std::string>& provenanceLabels() {
  static const std::vector<std::string> labels{"human_verified", "human_unverified",
                                               "synthetic_known", "synthetic_suspected", "unknown"};
  return labels;
}

const std::vector<std::string>& roleLabels() {
  static const std::vector<std::string> labels{"anchor", "pool", "benchmark"};
  return labels;
}

const std::vector<std::string>& verdictLabels() {
  static const std::vector<std::string> labels{"keep",        "duplicate",        "contaminated",
                                               "low_quality", "synthetic_capped", "anchor",
                                               "benchmark"};
  return labels;
}

namespace {
template <class E>
std::optional<E> parseLabel(const std::vector<std::string>& labels, std::string_view s) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == s) return static_cast<E>(i);
  return std::nullopt;
}
}  // namespace

std::optional<Provenance> parseProvenance(std::string_view s) {
  return parseLabel<Provenance>(provenanceLabels(), s);
}
std::optional<Role> parseRole(std::string_view s) {
  return parseLabel<Role>(roleLabels(), s);
}
std::string_view toString(Provenance p) {
  return provenanceLabels().at(static_cast<int>(p));
}
std::string_view toString(Role r) {
  return roleLabels().at(static_cast<int>(r));
}

}  // namespace cleanmix
