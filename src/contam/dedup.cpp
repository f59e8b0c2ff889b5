#include "cleanmix/contam/dedup.hpp"

#include <algorithm>
#include <cmath>

namespace cleanmix {

std::vector<std::pair<std::uint64_t, std::uint64_t>> candidateEdges(std::vector<KeyedDoc>& items) {
  std::sort(items.begin(), items.end(), [](const KeyedDoc& a, const KeyedDoc& b) {
    return a.key != b.key ? a.key < b.key : a.doc < b.doc;
  });
  std::vector<std::pair<std::uint64_t, std::uint64_t>> edges;
  for (std::size_t i = 0; i < items.size();) {
    std::size_t j = i + 1;
    while (j < items.size() && items[j].key == items[i].key) ++j;
    for (std::size_t k = i + 1; k < j; ++k)
      if (items[k].doc != items[i].doc) edges.emplace_back(items[i].doc, items[k].doc);
    i = j;
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return edges;
}

double lshCandidateProbability(double j, int bands, int rows) {
  return 1.0 - std::pow(1.0 - std::pow(j, rows), bands);
}

}  // namespace cleanmix
