#pragma once
/// \file
/// \brief Benchmark decontamination (GPT-3 rule): n-grams of lower-cased, punctuation-stripped
/// words (see wordHashes), n = 13; a benchmark item shorter than 13 words contributes its whole
/// text as one n-gram of its own length (items shorter than min_words are skipped: a 2-word
/// answer would flag half the corpus). Pure functions; the driver distributes the entries.
#include <cstdint>
#include <span>
#include <vector>

namespace cleanmix {

/// \brief Config section [decontam].
struct DecontamParams {
  int ngram = 13;    ///< the GPT-3 rule's n
  int minWords = 8;  ///< shorter benchmark items are not used
};

/// \brief One benchmark n-gram: its key and the benchmark sources (bit per source) it came from.
struct BenchNgram {
  std::uint64_t key = 0;
  std::uint64_t sources = 0;
  std::uint32_t length = 0;  ///< n of this n-gram (13, or the item's word count)
};

/// \brief The n-grams of one benchmark item (`benchBit` = its benchmark source's bit). Returns
/// false when the item was skipped for being shorter than `minWords`.
bool benchmarkNgrams(std::span<const std::uint64_t> words, std::uint32_t n, std::uint32_t minWords,
                     std::uint64_t benchBit, std::vector<BenchNgram>& out);

/// \brief The n-gram key of words[i, i+len) (identical for benchmark and corpus documents).
std::uint64_t ngramKeyOf(std::span<const std::uint64_t> words, std::size_t i, std::uint32_t len);

/// \brief Every benchmark n-gram of the run, sorted by key, with source bits merged.
class BenchmarkIndex {
 public:
  BenchmarkIndex() = default;
  explicit BenchmarkIndex(std::vector<BenchNgram> entries);
  bool empty() const { return _keys.empty(); }
  std::size_t size() const { return _keys.size(); }
  /// \brief Distinct benchmark n-grams found in a document, and the OR of their sources.
  std::uint32_t match(std::span<const std::uint64_t> words, std::uint64_t& sources,
                      std::vector<std::uint64_t>& scratch) const;
  const std::vector<std::uint32_t>& lengths() const { return _lengths; }

 private:
  std::vector<std::uint64_t> _keys, _sources;
  std::vector<std::uint32_t> _lengths;  ///< distinct n-gram lengths, ascending
};

}  // namespace cleanmix
