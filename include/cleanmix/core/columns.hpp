#pragma once
/// \file
/// \brief The registry of per-document columns: one row per column of `/docs` (DESIGN.md
/// "Per-document signals"). Everything that handles per-document values iterates this list:
/// the rows a rank holds (DocRows), the kernels' output slots, the score checkpoints, the HDF5
/// writer (datasets, `labels` and `meaning` attributes), `inspect`, the classifier's feature
/// vector and the e2e checker (through the `/docs` `columns` attribute).
///
/// Adding a per-document signal means: one row here, its computation (a kernel slot in
/// kernels/signals_impl.hpp for `Kernel` columns, the score stage for `Host` columns), and its
/// test. docs/architecture.md has the full table of what to change for what.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cleanmix {

/// \brief Element type of a column (its HDF5 and C++ type).
enum class ColumnType : std::uint8_t { U8, U16, U32, U64, I64, F64 };

/// \brief Where a column's value is computed. Columns up to `Kernel` are the score stage's
/// output and are checkpointed per piece; the later ones are filled by their stage.
enum class ColumnStage : std::uint8_t {
  Reader,     ///< where the document came from (index/reader)
  Tokenizer,  ///< counts from tokenizing (score stage, host)
  Host,       ///< other host-side score-stage work (zstd, decontamination, NB features)
  Kernel,     ///< the Kokkos signal kernel (kernels/signals_impl.hpp)
  Dedup,      ///< the dedup stage (and the verdict rules after it)
  Classify,   ///< the classify stage
  Plan,       ///< the plan stage (written only when the plan ran)
};

/// \brief How a column feeds the provenance classifier (in registry order).
enum class Feature : std::uint8_t { None, Value, Log2 };

/// \brief The `labels` attribute an enumeration column carries.
enum class Labels : std::uint8_t {
  None,
  Provenance,
  Verdict,
  Group,  ///< the run's group names (DocRows::groupNames), not a fixed list
};

// member, name, type, stage, feature, labels, meaning. Classifier features take the order they
// have here (the fitted weights follow it).
// clang-format off
#define CLEANMIX_DOC_COLUMNS(X) \
  X(source, "source", U16, Reader, None, None, "index of the document's source in /sources") \
  X(shard, "shard", U32, Reader, None, None, "index of its shard in /shards") \
  X(line, "line", U64, Reader, None, None, "1-based line number in the shard") \
  X(provenance, "provenance", U8, Reader, None, Provenance, "declared provenance class") \
  X(group, "group", U32, Reader, None, Group, "the document's group, an index into labels: its source's group_key value, or the source name") \
  X(nBytes, "n_bytes", U64, Tokenizer, None, None, "bytes of the normalised text") \
  X(nTokens, "n_tokens", U64, Tokenizer, None, None, "tokens (the run's tokenizer)") \
  X(nTypes, "n_types", U32, Kernel, None, None, "distinct tokens (by full 64-bit id)") \
  X(nSentences, "n_sentences", U32, Tokenizer, None, None, "sentences (. ! ? then space or end; blank lines)") \
  X(utf8Replaced, "utf8_replaced", U32, Tokenizer, None, None, "invalid UTF-8 sequences replaced with U+FFFD") \
  X(refPpl, "ref_ppl", F64, Kernel, Log2, None, "perplexity under the reference n-gram LM of the anchor (anchor docs leave-one-out)") \
  X(refUnigramBits, "ref_unigram_bits", F64, Kernel, Value, None, "mean token surprisal (bits) under the reference LM's add-one unigram: anchor text only, anchor docs leave-one-out, so unlike tail_score it does not move with what else is in the pool") \
  X(sentSurprisalSd, "sent_surprisal_sd", F64, Kernel, Value, None, "population sd of per-sentence mean surprisal under the reference LM (bits)") \
  X(refBitsSd, "ref_bits_sd", F64, Kernel, Value, None, "population sd of per-token surprisal under the reference LM (bits; anchor docs leave-one-out)") \
  X(refLowFrac, "ref_low_frac", F64, Kernel, Value, None, "share of predicted tokens with surprisal below 2 bits under the reference LM (GLTR-style top-rank share)") \
  X(contrastBits, "contrast_bits", F64, Kernel, Value, None, "mean per-token surprisal under the reference LM minus under the contrast LM of the synthetic_known sources (bits; labelled docs leave-one-out; NaN without a contrast LM)") \
  X(contrastSd, "contrast_sd", F64, Kernel, Value, None, "population sd of that per-token surprisal difference (bits)") \
  X(burstiness, "burstiness", F64, Kernel, Value, None, "coefficient of variation of sentence lengths in tokens") \
  X(ttr, "ttr", F64, Kernel, Value, None, "type-token ratio") \
  X(mattr, "mattr", F64, Kernel, Value, None, "moving-average type-token ratio over 50-token windows") \
  X(entropyBits, "entropy_bits", F64, Kernel, Value, None, "plug-in Shannon entropy of the token counts (bits)") \
  X(compressionRatio, "compression_ratio", F64, Host, Value, None, "bytes / zstd level-1 bytes of the normalised text") \
  X(dupLineFrac, "dup_line_frac", F64, Kernel, Value, None, "share of non-blank lines repeating an earlier line") \
  X(top2gramFrac, "top2gram_frac", F64, Kernel, Value, None, "byte share of the most frequent token bigram") \
  X(dup5gramFrac, "dup5gram_frac", F64, Kernel, Value, None, "byte share of tokens in repeated 5-grams") \
  X(tailScore, "tail_score", F64, Kernel, Value, None, "mean token surprisal (bits) under the add-one global unigram of anchor+pool") \
  X(nbUnigramLlr, "nb_unigram_llr", F64, Host, Value, None, "mean Naive-Bayes log-ratio synthetic/human of unigram buckets") \
  X(nbBigramLlr, "nb_bigram_llr", F64, Host, Value, None, "mean Naive-Bayes log-ratio synthetic/human of bigram buckets") \
  X(contaminated, "contaminated", U32, Host, None, None, "distinct benchmark n-grams found (GPT-3 rule)") \
  X(dupOf, "dup_of", I64, Dedup, None, None, "doc_id of the cluster representative, or -1") \
  X(verdict, "verdict", U8, Dedup, None, Verdict, "why the document is in or out of the mix") \
  X(pSynthetic, "p_synthetic", F64, Classify, None, None, "classifier probability of machine-generated text (NaN: not classified)") \
  X(inferred, "inferred", U8, Classify, None, Provenance, "declared provenance, or synthetic_suspected where the classifier flags HU/unknown text") \
  X(judged, "judged", U8, Classify, None, None, "1: the classifier judged the document; 0: not judged (outside the labelled data's feature range, a benchmark, or no classifier), so inferred = declared") \
  X(repeats, "repeats", U32, Plan, None, None, "planned copies in the mix (0 = excluded)")
// clang-format on

/// \brief Column ids, in registry order.
enum class Col : int {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning) member,
  CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X
};

/// \brief One registry row.
struct ColumnInfo {
  Col id;
  std::string_view name;  ///< dataset name under /docs
  ColumnType type;
  ColumnStage stage;
  Feature feature;
  Labels labels;
  std::string_view meaning;  ///< written as the dataset's `meaning` attribute

  /// \brief Filled by the score stage (and so kept in its per-piece checkpoints).
  constexpr bool scored() const { return stage <= ColumnStage::Kernel; }
};

/// \brief The registry.
inline constexpr ColumnInfo kDocColumns[] = {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning)    \
  {Col::member,      name,           ColumnType::type, ColumnStage::stage, \
   Feature::feature, Labels::labels, meaning},
    CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X
};
inline constexpr int kNumDocColumns = static_cast<int>(std::size(kDocColumns));

constexpr const ColumnInfo& columnInfo(Col c) {
  return kDocColumns[static_cast<int>(c)];
}

/// \brief The C++ element type of a ColumnType.
template <ColumnType T>
struct ColumnCpp;
template <>
struct ColumnCpp<ColumnType::U8> {
  using type = std::uint8_t;
};
template <>
struct ColumnCpp<ColumnType::U16> {
  using type = std::uint16_t;
};
template <>
struct ColumnCpp<ColumnType::U32> {
  using type = std::uint32_t;
};
template <>
struct ColumnCpp<ColumnType::U64> {
  using type = std::uint64_t;
};
template <>
struct ColumnCpp<ColumnType::I64> {
  using type = std::int64_t;
};
template <>
struct ColumnCpp<ColumnType::F64> {
  using type = double;
};
template <ColumnType T>
using ColumnCppT = typename ColumnCpp<T>::type;

/// \brief Slot of a column among the kernel's outputs of the same element type (the kernel
/// writes out(doc, slot)); -1 for a column the kernel does not compute.
constexpr int kernelSlot(Col c) {
  const ColumnInfo& ci = columnInfo(c);
  if (ci.stage != ColumnStage::Kernel) return -1;
  int slot = 0;
  for (int k = 0; k < static_cast<int>(c); ++k)
    slot += kDocColumns[k].stage == ColumnStage::Kernel && kDocColumns[k].type == ci.type;
  return slot;
}
/// \brief Number of kernel output slots of an element type.
constexpr int kernelSlots(ColumnType t) {
  int n = 0;
  for (const auto& c : kDocColumns) n += c.stage == ColumnStage::Kernel && c.type == t;
  return n;
}

/// \brief Classifier features: the columns with a Feature, in registry order.
inline constexpr int kNumFeatures = [] {
  int n = 0;
  for (const auto& c : kDocColumns) n += c.feature != Feature::None;
  return n;
}();
/// \brief Feature name: the column name, prefixed `log2_` for a Log2 feature.
std::string featureName(const ColumnInfo& c);
/// \brief Feature names in feature order.
const std::vector<std::string>& featureNames();

/// \brief Fingerprint of the registry's layout (every column's name, type and stage, in order),
/// 16 hex digits of FNV-1a 64. Checkpoints carry it, so pieces written with another column list
/// are recomputed instead of misread. The overload takes any column list (tests change one).
std::string columnsFingerprint(std::span<const ColumnInfo> columns);
std::string columnsFingerprint();
/// \brief Index in the feature vector of the feature computed from column `column` (e.g.
/// "ref_ppl" for log2_ref_ppl); -1 when that column is not a feature.
constexpr int featureIndex(std::string_view column) {
  int k = 0;
  for (const auto& c : kDocColumns) {
    if (c.feature == Feature::None) continue;
    if (c.name == column) return k;
    ++k;
  }
  return -1;
}

/// \brief This rank's /docs rows (a contiguous block of doc_ids), one vector per registry column.
struct DocRows {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning) \
  std::vector<ColumnCppT<ColumnType::type>>                             \
      member; /* NOLINT(bugprone-macro-parentheses): a declaration */
  CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X

  /// The labels of the `group` column: the run's group names, sorted, once the score stage
  /// has agreed them across ranks (before that, this rank's names in first-seen order).
  std::vector<std::string> groupNames;

  std::size_t size() const {
    return source.size();
  }
  /// \brief Index of group `name` in groupNames, added when new.
  std::uint32_t groupIndex(std::string_view name);

  /// \brief f(const ColumnInfo&, std::vector<T>&) for every column, in registry order.
  template <class F>
  void visit(F&& f) {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning) \
  f(columnInfo(Col::member), member);
    CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X
  }
  template <class F>
  void visit(F&& f) const {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning) \
  f(columnInfo(Col::member), member);
    CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X
  }

  /// \brief Append the rows of `o`'s columns for which keep(ColumnInfo) is true.
  template <class Keep>
  void append(const DocRows& o, Keep keep) {
#define CLEANMIX_X(member, name, type, stage, feature, labels, meaning)                  \
  /* NOLINTNEXTLINE(bugprone-macro-parentheses): member names cannot be parenthesised */ \
  if (keep(columnInfo(Col::member))) member.insert(member.end(), o.member.begin(), o.member.end());
    CLEANMIX_DOC_COLUMNS(CLEANMIX_X)
#undef CLEANMIX_X
  }

  /// \brief The classifier features of row i (kNumFeatures values, in feature order).
  void features(std::size_t i, double* x) const;
};

}  // namespace cleanmix
