#include "cleanmix/classify/setup.hpp"

#include <xxhash.h>

#include <algorithm>

#include "cleanmix/core/error.hpp"

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
  // A loaded model that weighs the contrast features needs this run's contrast LM, which is
  // counted from its synthetic_known sources (the model file does not carry it).
  if (s.loaded && params.enabled && !synthetic) {
    const auto& names = featureNames();
    for (std::size_t k = 0; k < names.size() && k < s.loaded->linear.weight.size(); ++k)
      if (names[k].starts_with("contrast_") && s.loaded->linear.weight[k] != 0)
        configFail("setupClassifier",
                   "model {} uses {}, which needs the contrast LM of synthetic_known sources, but "
                   "this config has none: add the labelled synthetic sources the model was "
                   "calibrated with, or calibrate a model without contrast_* features",
                   params.model, names[k]);
  }
  s.active = params.enabled && (s.loaded || (human && synthetic));
  s.fitNb = s.active && !s.loaded;
  s.hasSyntheticLabels = synthetic;
  s.lmFolds = s.fitNb && params.cvLm == "folds";
  return s;
}

}  // namespace cleanmix
