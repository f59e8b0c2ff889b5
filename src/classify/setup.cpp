#include "cleanmix/classify/setup.hpp"

#include <xxhash.h>

#include <algorithm>

namespace cleanmix {

int trainingLabel(const SourceConfig& src) {
  if (src.role == Role::Benchmark) return -1;
  if (src.provenance == Provenance::HumanVerified) return 0;
  if (src.provenance == Provenance::SyntheticKnown) return 1;
  return -1;
}

std::uint8_t lmFoldOf(std::string_view group) {
  return static_cast<std::uint8_t>(XXH3_64bits(group.data(), group.size()) >> 17 & 1);
}

bool isHashedTextFeature(std::string_view name) {
  return name.starts_with("nb_");
}

bool isPoolRelativeFeature(std::string_view name) {
  return name == "tail_score";
}

std::vector<std::uint8_t> ClassifierParams::featureMask() const {
  const auto& names = featureNames();
  std::vector<std::uint8_t> mask(names.size(), 0);
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (features.empty())
      mask[k] = isHashedTextFeature(names[k]) || isPoolRelativeFeature(names[k]) ? 0 : 1;
    else
      mask[k] = std::find(features.begin(), features.end(), names[k]) != features.end() ? 1 : 0;
  }
  return mask;
}

NbCounts ClassifierSetup::initialNb() const {
  NbCounts nb(nbBits);
  if (loaded) nb.counts = loaded->nbCounts;
  return nb;
}

ClassifierSetup setupClassifier(const ClassifierParams& params,
                                const std::vector<SourceConfig>& sources) {
  ClassifierSetup s;
  if (!params.model.empty()) s.loaded = loadModel(params.model);
  s.nbBits = s.loaded ? s.loaded->nbBits : params.nbBits;
  bool human = false, synthetic = false;
  for (const auto& src : sources) {
    human |= trainingLabel(src) == 0;
    synthetic |= trainingLabel(src) == 1;
  }
  s.active = params.enabled && (s.loaded || (human && synthetic));
  s.fitNb = s.active && !s.loaded;
  s.hasSyntheticLabels = synthetic;
  s.lmFolds = s.fitNb && params.cvLm == "folds";
  return s;
}

}  // namespace cleanmix
