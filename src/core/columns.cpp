#include "cleanmix/core/columns.hpp"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

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

std::string columnsFingerprint(std::span<const ColumnInfo> columns) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto eat = [&h](std::string_view bytes) {
    for (const char ch : bytes) {
      h ^= static_cast<unsigned char>(ch);
      h *= 0x100000001b3ull;
    }
  };
  for (const auto& c : columns) {
    eat(c.name);
    const char tag[3] = {'\0', static_cast<char>(c.type), static_cast<char>(c.stage)};
    eat(std::string_view(tag, 3));
  }
  return fmt::format("{:016x}", h);
}

std::string columnsFingerprint() {
  return columnsFingerprint(kDocColumns);
}

std::uint32_t DocRows::groupIndex(std::string_view name) {
  // Few groups (genres, sources), and consecutive documents mostly share one: search from the
  // last one found.
  static thread_local std::size_t last = 0;
  if (last < groupNames.size() && groupNames[last] == name) return static_cast<std::uint32_t>(last);
  for (std::size_t k = 0; k < groupNames.size(); ++k)
    if (groupNames[k] == name) return static_cast<std::uint32_t>(last = k);
  groupNames.emplace_back(name);
  return static_cast<std::uint32_t>(last = groupNames.size() - 1);
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
