#include "cleanmix/contam/decontam.hpp"

#include <algorithm>

#include "cleanmix/core/hash.hpp"

namespace cleanmix {

std::uint64_t ngramKeyOf(std::span<const std::uint64_t> words, std::size_t i, std::uint32_t len) {
  return ngramKey(words.data() + i, static_cast<int>(len));
}

bool benchmarkNgrams(std::span<const std::uint64_t> words, std::uint32_t n, std::uint32_t minWords,
                     std::uint64_t benchBit, std::vector<BenchNgram>& out) {
  const std::size_t w = words.size();
  if (w >= n) {
    for (std::size_t i = 0; i + n <= w; ++i) out.push_back({ngramKeyOf(words, i, n), benchBit, n});
    return true;
  }
  if (w < minWords || w == 0) return false;
  out.push_back({ngramKeyOf(words, 0, static_cast<std::uint32_t>(w)), benchBit,
                 static_cast<std::uint32_t>(w)});
  return true;
}

BenchmarkIndex::BenchmarkIndex(std::vector<BenchNgram> e) {
  std::sort(e.begin(), e.end(),
            [](const BenchNgram& a, const BenchNgram& b) { return a.key < b.key; });
  for (const auto& x : e) {
    if (!_keys.empty() && _keys.back() == x.key) {
      _sources.back() |= x.sources;
    } else {
      _keys.push_back(x.key);
      _sources.push_back(x.sources);
    }
    if (std::find(_lengths.begin(), _lengths.end(), x.length) == _lengths.end())
      _lengths.push_back(x.length);
  }
  std::sort(_lengths.begin(), _lengths.end());
}

std::uint32_t BenchmarkIndex::match(std::span<const std::uint64_t> words, std::uint64_t& sources,
                                    std::vector<std::uint64_t>& scratch) const {
  sources = 0;
  scratch.clear();
  if (_keys.empty()) return 0;
  for (const std::uint32_t len : _lengths) {
    for (std::size_t i = 0; i + len <= words.size(); ++i) {
      const std::uint64_t k = ngramKeyOf(words, i, len);
      const auto it = std::lower_bound(_keys.begin(), _keys.end(), k);
      if (it != _keys.end() && *it == k) {
        scratch.push_back(k);
        sources |= _sources[static_cast<std::size_t>(it - _keys.begin())];
      }
    }
  }
  std::sort(scratch.begin(), scratch.end());
  return static_cast<std::uint32_t>(std::unique(scratch.begin(), scratch.end()) - scratch.begin());
}

}  // namespace cleanmix
