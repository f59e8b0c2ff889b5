#include "cleanmix/core/columns.hpp"

#include <cmath>

namespace cleanmix {

std::string featureName(const ColumnInfo& c) {
  return (c.feature == Feature::Log2 ? "log2_" : "") + std::string(c.name);
}

const std::vector<std::string>& featureNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& c : kDocColumns)
      if (c.feature != Feature::None) n.push_back(featureName(c));
    return n;
  }();
  return names;
}

void DocRows::features(std::size_t i, double* x) const {
  int k = 0;
  visit([&](const ColumnInfo& c, const auto& v) {
    if (c.feature == Feature::None) return;
    const auto value = static_cast<double>(v[i]);
    x[k++] = c.feature == Feature::Log2 ? std::log2(value) : value;
  });
}

}  // namespace cleanmix
