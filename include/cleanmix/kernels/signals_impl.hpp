#pragma once
/// \file
/// \brief Template implementation of SignalScorer on an execution space. One work item per
/// document; each document owns a scratch open-addressing hash table (capacity a power of two
/// >= 2·tokens) carved out of one batch-wide device allocation, so the kernel needs no atomics
/// and its floating-point sums run in a fixed order: results depend only on the document.
#include <Kokkos_Core.hpp>

#include <cstdlib>

#include "cleanmix/core/error.hpp"
#include "cleanmix/core/hash.hpp"
#include "cleanmix/core/kokkos_compat.hpp"
#include "cleanmix/kernels/ngram_lm.hpp"
#include "cleanmix/kernels/signals.hpp"

namespace cleanmix::kernels {

using cleanmix::mix64;
using cleanmix::ngramKey;

/// Per-document hash table over a slice of the batch scratch.
struct ScratchTable {
  std::uint64_t* key;
  std::uint32_t* cnt;
  std::uint32_t* pos;
  std::uint32_t mask;

  KOKKOS_INLINE_FUNCTION void clear() const {
    for (std::uint32_t s = 0; s <= mask; ++s) cnt[s] = 0;
  }
  /// Slot of k: its own, or the empty one where it goes. Keys are uniform 64-bit hashes.
  KOKKOS_INLINE_FUNCTION std::uint32_t probe(std::uint64_t k) const {
    std::uint32_t s = static_cast<std::uint32_t>(k ^ (k >> 32)) & mask;
    while (cnt[s] != 0 && key[s] != k) s = (s + 1) & mask;
    return s;
  }
};

// Output slots: the registry's Kernel columns (core/columns.hpp), by element type.
inline constexpr int kEntropy = kernelSlot(Col::entropyBits);
inline constexpr int kTtr = kernelSlot(Col::ttr);
inline constexpr int kMattr = kernelSlot(Col::mattr);
inline constexpr int kBurstiness = kernelSlot(Col::burstiness);
inline constexpr int kDupLine = kernelSlot(Col::dupLineFrac);
inline constexpr int kTop2 = kernelSlot(Col::top2gramFrac);
inline constexpr int kDup5 = kernelSlot(Col::dup5gramFrac);
inline constexpr int kTail = kernelSlot(Col::tailScore);
inline constexpr int kRefPpl = kernelSlot(Col::refPpl);
inline constexpr int kSentSd = kernelSlot(Col::sentSurprisalSd);
inline constexpr int kRefUni = kernelSlot(Col::refUnigramBits);
inline constexpr int kRefSd = kernelSlot(Col::refBitsSd);
inline constexpr int kRefLow = kernelSlot(Col::refLowFrac);
inline constexpr int kConBits = kernelSlot(Col::contrastBits);
inline constexpr int kConSd = kernelSlot(Col::contrastSd);
inline constexpr int kTypes = kernelSlot(Col::nTypes);
/// Kernel slot of kLmColumns[k]: a switch over integral constants, not a host array or a host
/// constexpr call, so device code indexing it at run time needs nothing from the host
/// (CUDA/HIP, without --expt-relaxed-constexpr).
inline constexpr int kLm0 = kernelSlot(kLmColumns[0]), kLm1 = kernelSlot(kLmColumns[1]),
                     kLm2 = kernelSlot(kLmColumns[2]), kLm3 = kernelSlot(kLmColumns[3]),
                     kLm4 = kernelSlot(kLmColumns[4]), kLm5 = kernelSlot(kLmColumns[5]),
                     kLm6 = kernelSlot(kLmColumns[6]);
KOKKOS_INLINE_FUNCTION constexpr int lmSlot(int k) {
  switch (k) {
    case 0: return kLm0;
    case 1: return kLm1;
    case 2: return kLm2;
    case 3: return kLm3;
    case 4: return kLm4;
    case 5: return kLm5;
    default: return kLm6;
  }
}
static_assert(kNumLmColumns == 7, "lmSlot lists every LM column");
inline constexpr int kNumRealSlots = kernelSlots(ColumnType::F64);
inline constexpr int kNumCountSlots = kernelSlots(ColumnType::U32);
static_assert(kEntropy >= 0 && kTtr >= 0 && kMattr >= 0 && kBurstiness >= 0 && kDupLine >= 0 &&
                  kTop2 >= 0 && kDup5 >= 0 && kTail >= 0 && kRefPpl >= 0 && kSentSd >= 0 &&
                  kRefUni >= 0 && kRefSd >= 0 && kRefLow >= 0 && kConBits >= 0 && kConSd >= 0 &&
                  kTypes >= 0,
              "every value the kernel writes must be a Kernel column of the registry");
static_assert(kernelSlots(ColumnType::U8) + kernelSlots(ColumnType::U16) +
                      kernelSlots(ColumnType::U64) + kernelSlots(ColumnType::I64) ==
                  0,
              "kernel columns are F64 or U32 (add an output view for another type)");

template <class ExecSpace>
struct ScoreFunctor {
  using Mem = typename ExecSpace::memory_space;
  template <class T>
  using V = Kokkos::View<T*, Mem>;

  V<const std::uint64_t> tokOff, ids, sentOff, lineOff, lineHashes, scrOff;
  V<const std::uint32_t> lens, sentLens;
  V<const double> surprisal;
  std::uint64_t bucketMask;
  V<const std::uint8_t> loo;       // kLooReference | kLooContrast per document
  V<const std::uint64_t> lmTable;  // [uni | bi | tri], empty without an LM
  std::uint64_t lmUniMask, lmNgramMask, lmTotal;
  V<const std::uint64_t> conTable;  // the contrast LM, same layout; empty without one
  std::uint64_t conUniMask, conNgramMask, conTotal;
  V<const std::uint64_t> refFold0, conFold0;  // fold-0 counts (empty: no fold scoring)
  std::uint64_t refFold0Total, conFold0Total;
  double lambda1, lambda2, lambda3;
  V<const std::uint64_t> wordOff, words;  // MinHash shingle words
  bool mhOn;
  int mhBands, mhRows, mhShingle;
  std::uint64_t mhSeed, mhSalt;
  V<std::uint64_t> bandKeys;
  V<std::uint64_t> tkey;
  V<std::uint32_t> tcnt, tpos, slot;
  Kokkos::View<double**, Kokkos::LayoutLeft, Mem> out;              // [doc][real slot]
  Kokkos::View<std::uint32_t**, Kokkos::LayoutLeft, Mem> outCount;  // [doc][count slot]
  Kokkos::View<double**, Kokkos::LayoutLeft, Mem> outFold;  // [doc][fold x LM column]; or empty

  using Policy = Kokkos::TeamPolicy<ExecSpace, Kokkos::Schedule<Kokkos::Dynamic>>;
  using Member = typename Policy::member_type;
  using Scratch = typename ExecSpace::scratch_memory_space;
  template <class T>
  using SV = Kokkos::View<T*, Scratch, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

  /// Tokens of the LM's per-token pass per chunk: its values live in team scratch.
  static constexpr std::uint64_t kLmChunk = 128;

  /// Team scratch bytes: the LM chunk (bits, contrast difference, unigram log) and the MinHash
  /// bins (minimum per bin, densified value per bin).
  static std::size_t scratchBytes() {
    return 3 * SV<double>::shmem_size(kLmChunk) + SV<std::uint64_t>::shmem_size(kMaxMinHashes) +
           SV<std::uint32_t>::shmem_size(kMaxMinHashes);
  }

  /// One team per document. The hash-table signals and the leave-one-out counts are built by one
  /// thread of the team (Kokkos::single); the reference/contrast/fold LM pass runs the team's
  /// threads over the tokens in chunks, then one thread folds the chunk's values in token order;
  /// MinHash runs the team over the shingles (exact minima: atomic on a team, plain alone) and
  /// over the bins. Every floating-point sum is taken in token order by one thread, so the
  /// result does not depend on the team size, the thread count or the backend.
  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    const std::size_t d = team.league_rank();
    const SV<double> bits(team.team_scratch(0), kLmChunk), diff(team.team_scratch(0), kLmChunk),
        ulog(team.team_scratch(0), kLmChunk);
    const SV<std::uint64_t> mins(team.team_scratch(0), kMaxMinHashes);
    const SV<std::uint32_t> dens(team.team_scratch(0), kMaxMinHashes);
    const std::uint64_t t0 = tokOff(d);
    const std::uint64_t n = tokOff(d + 1) - t0;
    const std::uint64_t s0 = scrOff(d);
    const ScratchTable tab{tkey.data() + s0, tcnt.data() + s0, tpos.data() + s0,
                           static_cast<std::uint32_t>(scrOff(d + 1) - s0 - 1)};
    const std::uint64_t* id = ids.data() + t0;
    Kokkos::single(Kokkos::PerTeam(team), [&]() { tableSignals(d, n, id, tab); });
    team.team_barrier();
    LmChunk chunk{bits.data(), diff.data(), ulog.data()};
    scoreLm(team, chunk, d, n, id, tab);
    minHash(team, d, mins.data(), dens.data());
  }

  /// The signals built on the document's scratch table, then (for leave-one-out) the
  /// document's own n-gram counts, which the LM pass reads.
  KOKKOS_INLINE_FUNCTION void tableSignals(const std::size_t d, const std::uint64_t n,
                                           const std::uint64_t* id, const ScratchTable& tab) const {
    const std::uint64_t t0 = tokOff(d);
    const std::uint32_t* ln = lens.data() + t0;
    std::uint32_t* sl = slot.data() + t0;

    // unigrams: types, entropy, ttr
    tab.clear();
    std::uint32_t types = 0;
    std::uint64_t totalBytes = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::uint32_t s = tab.probe(id[i]);
      if (tab.cnt[s] == 0) {
        tab.key[s] = id[i];
        tab.pos[types++] = s;  // compact list of the occupied slots (pos is free in this pass)
      }
      ++tab.cnt[s];
      sl[i] = s;
      totalBytes += ln[i];
    }
    outCount(d, kTypes) = types;
    // entropy and tail_score (mean surprisal under the global add-one unigram) per type
    double entropy = 0, ttr = 0, tail = 0;
    if (n > 0) {
      double sumClogC = 0;
      for (std::uint32_t t = 0; t < types; ++t) {
        const std::uint32_t s = tab.pos[t];
        const std::uint32_t c = tab.cnt[s];
        const double dc = static_cast<double>(c);
        tail += dc * surprisal(tab.key[s] & bucketMask);
        if (c > 1) sumClogC += dc * kx::log2(dc);
      }
      const double dn = static_cast<double>(n);
      entropy = kx::log2(dn) - sumClogC / dn;
      ttr = static_cast<double>(types) / dn;
      tail /= dn;
    }
    out(d, kEntropy) = entropy;
    out(d, kTtr) = ttr;
    out(d, kTail) = tail;

    // moving-average TTR over windows of kMattrWindow tokens (the slots stay valid)
    double mattr = ttr;
    if (n > kMattrWindow) {
      const std::uint64_t w = kMattrWindow;
      for (std::uint32_t s = 0; s <= tab.mask; ++s) tab.cnt[s] = 0;
      std::uint64_t distinct = 0, acc = 0;
      for (std::uint64_t i = 0; i < n; ++i) {
        if (tab.cnt[sl[i]]++ == 0) ++distinct;
        if (i >= w && --tab.cnt[sl[i - w]] == 0) --distinct;
        if (i + 1 >= w) acc += distinct;
      }
      mattr = static_cast<double>(acc) / (static_cast<double>(w) * static_cast<double>(n - w + 1));
    }
    out(d, kMattr) = mattr;

    // top2gram_frac: byte share of the most frequent token bigram (ties: the longer one)
    double top2 = 0;
    if (n >= 2 && totalBytes > 0) {
      tab.clear();
      std::uint32_t bestC = 0;
      std::uint64_t bestB = 0;
      for (std::uint64_t i = 0; i + 1 < n; ++i) {
        const std::uint64_t k = ngramKey(id + i, 2);
        const std::uint32_t s = tab.probe(k);
        if (tab.cnt[s] == 0) {
          tab.key[s] = k;
          tab.pos[s] = static_cast<std::uint32_t>(i);
        }
        const std::uint32_t c = ++tab.cnt[s];
        const std::uint64_t b = ln[tab.pos[s]] + ln[tab.pos[s] + 1];
        if (c > bestC || (c == bestC && b > bestB)) {
          bestC = c;
          bestB = b;
        }
      }
      top2 =
          static_cast<double>(bestC) * static_cast<double>(bestB) / static_cast<double>(totalBytes);
      if (top2 > 1.0) top2 = 1.0;
    }
    out(d, kTop2) = top2;

    // dup5gram_frac: byte share of tokens covered by 5-grams occurring more than once
    double dup5 = 0;
    if (n >= 5 && totalBytes > 0) {
      tab.clear();
      for (std::uint64_t i = 0; i + 5 <= n; ++i) {
        const std::uint64_t k = ngramKey(id + i, 5);
        const std::uint32_t s = tab.probe(k);
        if (tab.cnt[s] == 0) tab.key[s] = k;
        ++tab.cnt[s];
        sl[i] = s;
      }
      std::uint64_t covered = 0, coverEnd = 0;
      for (std::uint64_t i = 0; i + 5 <= n; ++i) {
        if (tab.cnt[sl[i]] < 2) continue;
        for (std::uint64_t j = (i > coverEnd ? i : coverEnd); j < i + 5; ++j) covered += ln[j];
        coverEnd = i + 5;
      }
      dup5 = static_cast<double>(covered) / static_cast<double>(totalBytes);
    }
    out(d, kDup5) = dup5;

    // burstiness: coefficient of variation of sentence lengths
    const std::uint64_t a0 = sentOff(d), m = sentOff(d + 1) - a0;
    double burst = 0;
    if (m >= 2) {
      double sum = 0;
      for (std::uint64_t j = 0; j < m; ++j) sum += sentLens(a0 + j);
      const double mean = sum / static_cast<double>(m);
      double var = 0;
      for (std::uint64_t j = 0; j < m; ++j) {
        const double dv = sentLens(a0 + j) - mean;
        var += dv * dv;
      }
      var /= static_cast<double>(m);
      burst = mean > 0 ? kx::sqrt(var) / mean : 0.0;
    }
    out(d, kBurstiness) = burst;

    // dup_line_frac: share of non-blank lines repeating an earlier line
    const std::uint64_t l0 = lineOff(d), nl = lineOff(d + 1) - l0;
    double dupLine = 0;
    if (nl > 0) {
      tab.clear();
      std::uint64_t dups = 0;
      for (std::uint64_t j = 0; j < nl; ++j) {
        const std::uint64_t h = lineHashes(l0 + j);
        const std::uint32_t s = tab.probe(h);
        if (tab.cnt[s] == 0) {
          tab.key[s] = h;
          tab.cnt[s] = 1;
        } else {
          ++dups;
        }
      }
      dupLine = static_cast<double>(dups) / static_cast<double>(nl);
    }
    out(d, kDupLine) = dupLine;

    ownCounts(d, n, id, tab);
  }

  /// MinHash of the document's word shingles by one-permutation hashing with optimal
  /// densification (Shrivastava, ICML 2017): one hash h = mix64(shingle ^ salt) per shingle; its
  /// top 32 bits pick one of k = bands × rows bins, its low 32 bits compete for that bin's
  /// minimum. An empty bin i then takes the value of the first non-empty bin in its own probe
  /// sequence mix64(salt ^ i, t), t = 1, 2, ..., which depends only on (i, t), so two documents
  /// borrow from the same bins wherever both are empty there. P(bins agree) = J as with k
  /// independent hashes, at 1/k of the hashing. One key per band of `rows` bins.
  KOKKOS_INLINE_FUNCTION static std::uint32_t binOf(std::uint64_t h, std::uint32_t k) {
    return static_cast<std::uint32_t>(((h >> 32) * k) >> 32);
  }

  KOKKOS_INLINE_FUNCTION void minHash(const Member& team, const std::size_t d, std::uint64_t* sig,
                                      std::uint32_t* val) const {
    if (!mhOn) return;
    const auto k = static_cast<std::uint32_t>(mhBands * mhRows);
    const std::uint64_t w0 = wordOff(d), nw = wordOff(d + 1) - w0;
    const std::uint64_t sh = static_cast<std::uint64_t>(mhShingle);
    const std::size_t keyBase = d * static_cast<std::size_t>(mhBands);
    if (nw < sh) {
      Kokkos::parallel_for(Kokkos::TeamThreadRange(team, mhBands), [&](const int b) {
        bandKeys(keyBase + static_cast<std::size_t>(b)) = 0;
      });
      return;
    }
    constexpr std::uint64_t kEmpty = ~std::uint64_t{0};  // bin values are < 2^32
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, k),
                         [&](const std::uint32_t j) { sig[j] = kEmpty; });
    team.team_barrier();
    const std::uint64_t* w = words.data() + w0;
    const bool alone = team.team_size() == 1;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, nw - sh + 1), [&](const std::uint64_t i) {
      const std::uint64_t h = mix64(ngramKey(w + i, mhShingle) ^ mhSalt);
      const std::uint32_t bin = binOf(h, k);
      const std::uint64_t v = h & 0xFFFFFFFFull;
      if (alone) {
        sig[bin] = v < sig[bin] ? v : sig[bin];
      } else {
        Kokkos::atomic_fetch_min(&sig[bin], v);  // the minimum is exact in any order
      }
    });
    team.team_barrier();
    // Densify from the filled bins only (val is separate, so no bin sees another's borrowing).
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, k), [&](const std::uint32_t j) {
      std::uint64_t v = sig[j];
      // at least one bin is full (nw >= sh), so this ends; expected k / full probes
      for (std::uint64_t t = 1; v == kEmpty; ++t)
        v = sig[binOf(
            mix64(mhSalt ^ (static_cast<std::uint64_t>(j) << 32 | t) ^ 0xD6E8FEB86659FD93ull), k)];
      val[j] = static_cast<std::uint32_t>(v);
    });
    team.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(team, mhBands), [&](const int b) {
      std::uint64_t key =
          mix64(mhSeed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(b + 1)));
      for (int r = 0; r < mhRows; ++r) key = combine(key, val[b * mhRows + r]);
      bandKeys(keyBase + static_cast<std::size_t>(b)) = key | 1;  // never 0 ("no shingles")
    });
  }

  /// One LM's counts for a document: a table, optionally minus another (fold 1 = all − fold 0),
  /// and whether the document's own n-grams (keyed in the scratch table with this LM's tag) are
  /// subtracted too.
  struct LmTables {
    const std::uint64_t* uni;
    const std::uint64_t* bi;
    const std::uint64_t* tri;
    const std::uint64_t* sub;  ///< a table of the same layout to subtract, or nullptr
    std::uint64_t uniMask, ngramMask;
    std::uint64_t tag;  ///< own-count key tags tag+1..tag+3, in the top 4 bits
    bool loo;
    double total, v;  ///< N (own tokens removed when loo) and V
    KOKKOS_INLINE_FUNCTION std::uint64_t key(std::uint64_t kind, std::uint64_t idx) const {
      return (tag + kind) << 60 | idx;
    }
    /// The table count at idx of table part `kind` (1 uni, 2 bi, 3 tri), minus `sub`'s.
    KOKKOS_INLINE_FUNCTION std::uint64_t at(std::uint64_t kind, std::uint64_t idx) const {
      const std::uint64_t off = kind == 1 ? 0 : kind == 2 ? uniMask + 1 : uniMask + ngramMask + 2;
      const std::uint64_t c = (kind == 1 ? uni : kind == 2 ? bi : tri)[idx];
      return sub ? c - sub[off + idx] : c;
    }
  };

  KOKKOS_INLINE_FUNCTION static LmTables tables(const std::uint64_t* t, const std::uint64_t* sub,
                                                std::uint64_t uniMask, std::uint64_t ngramMask,
                                                std::uint64_t lmTot, std::uint64_t tag, bool loo,
                                                std::uint64_t n) {
    return {t,
            t + uniMask + 1,
            t + uniMask + 1 + ngramMask + 1,
            sub,
            uniMask,
            ngramMask,
            tag,
            loo,
            static_cast<double>(lmTot - (loo ? n + 1 : 0)),
            static_cast<double>(uniMask + 1)};
  }

  /// The document's own uni-, bi- and trigram counts under m, keyed by table slot.
  KOKKOS_INLINE_FUNCTION static void addOwn(const LmTables& m, const ScratchTable& tab,
                                            const std::uint64_t n, const std::uint64_t* id) {
    auto add = [&](std::uint64_t k) {
      const std::uint32_t s = tab.probe(k);
      if (tab.cnt[s] == 0) tab.key[s] = k;
      ++tab.cnt[s];
    };
    const std::uint64_t B = kBoundaryId;
    std::uint64_t p2 = B, p1 = B;
    for (std::uint64_t j = 0; j <= n; ++j) {
      const std::uint64_t w = j < n ? id[j] : B;
      add(m.key(1, lm::uniIndex(w, m.uniMask)));
      add(m.key(2, lm::biIndex(p1, w, m.ngramMask)));
      add(m.key(3, lm::triIndex(p2, p1, w, m.ngramMask)));
      p2 = p1;
      p1 = w;
    }
  }

  KOKKOS_INLINE_FUNCTION static std::uint64_t own(const LmTables& m, const ScratchTable& tab,
                                                  std::uint64_t k) {
    return m.loo ? tab.cnt[tab.probe(k)] : 0;
  }

  KOKKOS_INLINE_FUNCTION static void prefetch(const LmTables& m, std::uint64_t u, std::uint64_t v,
                                              std::uint64_t w) {
    CLEANMIX_PREFETCH(m.uni + lm::uniIndex(w, m.uniMask));
    CLEANMIX_PREFETCH(m.bi + lm::biIndex(v, w, m.ngramMask));
    CLEANMIX_PREFETCH(m.tri + lm::triIndex(u, v, w, m.ngramMask));
  }

  /// Surprisal (bits) of token j (w after u v; the boundary B around the document) under m,
  /// a pure function of j: the context counts c(v) and c(u v) are looked up, not carried, so
  /// the tokens can be scored in any order and by any thread. c(B B) is c(B), the number of
  /// documents. cw returns c(w), own counts removed.
  KOKKOS_INLINE_FUNCTION double tokenBits(const LmTables& m, const ScratchTable& tab,
                                          std::uint64_t u, std::uint64_t v, std::uint64_t w,
                                          bool first, std::uint64_t& cw) const {
    const std::uint64_t iv = lm::uniIndex(v, m.uniMask);
    const std::uint64_t cv = m.at(1, iv) - own(m, tab, m.key(1, iv));
    std::uint64_t cuv = cv;
    if (!first) {
      const std::uint64_t iuv = lm::biIndex(u, v, m.ngramMask);
      cuv = m.at(2, iuv) - own(m, tab, m.key(2, iuv));
    }
    std::uint64_t cvw = 0;
    return carriedBits(m, tab, u, v, w, cv, cuv, cw, cvw);
  }

  /// The same surprisal with the context counts given: c(v) = cv and c(u v) = cuv, which a
  /// sequential pass carries from the previous token (its cw and cvw), saving two lookups.
  KOKKOS_INLINE_FUNCTION double carriedBits(const LmTables& m, const ScratchTable& tab,
                                            std::uint64_t u, std::uint64_t v, std::uint64_t w,
                                            std::uint64_t cv, std::uint64_t cuv, std::uint64_t& cw,
                                            std::uint64_t& cvw) const {
    const std::uint64_t iu = lm::uniIndex(w, m.uniMask), ib = lm::biIndex(v, w, m.ngramMask),
                        it = lm::triIndex(u, v, w, m.ngramMask);
    cw = m.at(1, iu) - own(m, tab, m.key(1, iu));
    cvw = m.at(2, ib) - own(m, tab, m.key(2, ib));
    const std::uint64_t cuvw = m.at(3, it) - own(m, tab, m.key(3, it));
    double p = lambda1 * (static_cast<double>(cw) + 1.0) / (m.total + m.v), wsum = lambda1;
    if (cv > 0) {
      const double r = static_cast<double>(cvw) / static_cast<double>(cv);
      p += lambda2 * (r < 1.0 ? r : 1.0);
      wsum += lambda2;
    }
    if (cuv > 0) {
      const double r = static_cast<double>(cuvw) / static_cast<double>(cuv);
      p += lambda3 * (r < 1.0 ? r : 1.0);
      wsum += lambda3;
    }
    return -kx::log2(p / wsum);
  }

  /// The LM pass's per-token values of one chunk, in team scratch.
  struct LmChunk {
    double* bits;  ///< surprisal under the reference (or fold) LM
    double* diff;  ///< that minus the surprisal under the contrast LM
    double* ulog;  ///< log2(c(w) + 1) under the reference LM
  };

  /// The running sums of the LM columns, folded in token order by one thread.
  struct LmSums {
    std::uint64_t low = 0, sent = 0, sentEnd = 0, inSent = 0, nSent = 0;
    double sum = 0, sentSum = 0, mean = 0, m2 = 0, uniBits = 0;
    double tokMean = 0, tokM2 = 0, dSum = 0, dMean = 0, dM2 = 0;
  };

  /// The LM columns (kLmColumns order) of one document under ref and, when withCon, con; a
  /// collective of the team. res is valid on the thread that ran the Kokkos::single blocks.
  KOKKOS_INLINE_FUNCTION void lmColumns(const Member& team, const LmChunk& c, const std::size_t d,
                                        const std::uint64_t n, const std::uint64_t* id,
                                        const ScratchTable& tab, const LmTables& ref,
                                        const LmTables& con, bool withCon, double* res) const {
    const std::uint64_t B = kBoundaryId;
    auto tok = [&](std::uint64_t j) { return j < n ? id[j] : B; };
    constexpr std::uint64_t kAhead = 8;  // prefetch distance: the loads are independent
    LmSums a;
    a.sent = sentOff(d);
    a.sentEnd = sentOff(d + 1);
    // A team of one (host backends) walks the tokens in order and carries the context counts;
    // a larger team gives each thread its own tokens and looks them up. The counts, hence the
    // values, are the same either way (Backends tests run both).
    const bool alone = team.team_size() == 1;
    std::uint64_t cv = 0, cuv = 0, ccv = 0, ccuv = 0;
    if (alone) {  // context counts of the first token: c(B B) = c(B) = number of documents
      const std::uint64_t iB = lm::uniIndex(B, ref.uniMask), iBc = lm::uniIndex(B, con.uniMask);
      cv = cuv = ref.at(1, iB) - own(ref, tab, ref.key(1, iB));
      ccv = ccuv = withCon ? con.at(1, iBc) - own(con, tab, con.key(1, iBc)) : 0;
    }
    for (std::uint64_t c0 = 0; c0 <= n; c0 += kLmChunk) {
      const std::uint64_t c1 = c0 + kLmChunk < n + 1 ? c0 + kLmChunk : n + 1;
      auto ahead = [&](std::uint64_t j) {
        if (j + kAhead <= n) {
          const std::uint64_t f = j + kAhead;
          prefetch(ref, tok(f - 2), tok(f - 1), tok(f));
          if (withCon) prefetch(con, tok(f - 2), tok(f - 1), tok(f));
        }
      };
      if (alone) {
        for (std::uint64_t j = c0; j < c1; ++j) {
          ahead(j);
          const std::uint64_t u = j >= 2 ? tok(j - 2) : B, v = j >= 1 ? tok(j - 1) : B, w = tok(j);
          std::uint64_t cw = 0, cvw = 0;
          const double b = carriedBits(ref, tab, u, v, w, cv, cuv, cw, cvw);
          cuv = cvw;
          cv = cw;
          c.bits[j - c0] = b;
          c.ulog[j - c0] = kx::log2(static_cast<double>(cw) + 1.0);
          if (withCon) {
            std::uint64_t ccw = 0, ccvw = 0;
            c.diff[j - c0] = b - carriedBits(con, tab, u, v, w, ccv, ccuv, ccw, ccvw);
            ccuv = ccvw;
            ccv = ccw;
          } else {
            c.diff[j - c0] = 0.0;
          }
        }
      } else {
        Kokkos::parallel_for(Kokkos::TeamThreadRange(team, c0, c1), [&](const std::uint64_t j) {
          ahead(j);
          const std::uint64_t u = j >= 2 ? tok(j - 2) : B, v = j >= 1 ? tok(j - 1) : B, w = tok(j);
          std::uint64_t cw = 0, ccw = 0;
          const double b = tokenBits(ref, tab, u, v, w, j == 0, cw);
          c.bits[j - c0] = b;
          c.ulog[j - c0] = kx::log2(static_cast<double>(cw) + 1.0);
          c.diff[j - c0] = withCon ? b - tokenBits(con, tab, u, v, w, j == 0, ccw) : 0.0;
        });
      }
      team.team_barrier();
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        for (std::uint64_t j = c0; j < c1; ++j) {
          const double bits = c.bits[j - c0];
          a.sum += bits;
          const double k1 = static_cast<double>(j + 1);
          {  // Welford over tokens, in token order
            const double delta = bits - a.tokMean;
            a.tokMean += delta / k1;
            a.tokM2 += delta * (bits - a.tokMean);
          }
          a.low += bits < 2.0 ? 1 : 0;
          if (withCon) {
            const double df = c.diff[j - c0];
            a.dSum += df;
            const double delta = df - a.dMean;
            a.dMean += delta / k1;
            a.dM2 += delta * (df - a.dMean);
          }
          if (j < n) a.uniBits += c.ulog[j - c0];
          if (j < n && a.sent < a.sentEnd) {  // per-sentence mean surprisal, Welford over sentences
            a.sentSum += bits;
            if (++a.inSent == sentLens(a.sent)) {
              const double x = a.sentSum / static_cast<double>(a.inSent);
              ++a.nSent;
              const double delta = x - a.mean;
              a.mean += delta / static_cast<double>(a.nSent);
              a.m2 += delta * (x - a.mean);
              a.sentSum = 0;
              a.inSent = 0;
              ++a.sent;
            }
          }
        }
      });
      team.team_barrier();
    }
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      const double predicted = static_cast<double>(n + 1);
      res[0] = kx::exp2(a.sum / predicted);
      // ref_unigram_bits = mean of log2(N + V) − log2(c_w + 1): the constant term once
      res[1] = n > 0 ? kx::log2(ref.total + ref.v) - a.uniBits / static_cast<double>(n) : 0.0;
      res[2] = a.nSent >= 2 ? kx::sqrt(a.m2 / static_cast<double>(a.nSent)) : 0.0;
      res[3] = kx::sqrt(a.tokM2 / predicted);
      res[4] = static_cast<double>(a.low) / predicted;
      res[5] = withCon ? a.dSum / predicted : kx::quietNaN();
      res[6] = withCon ? kx::sqrt(a.dM2 / predicted) : kx::quietNaN();
    });
  }

  /// Which LMs the document is left out of: its own uni-, bi- and trigram counts under them go
  /// into the scratch table (one thread, after the table signals).
  KOKKOS_INLINE_FUNCTION void ownCounts(const std::size_t d, const std::uint64_t n,
                                        const std::uint64_t* id, const ScratchTable& tab) const {
    if (lmTable.extent(0) == 0) return;
    const std::uint8_t m = loo(d);
    const bool withCon = conTable.extent(0) > 0, inRef = (m & kLooReference) != 0,
               inCon = withCon && (m & kLooContrast) != 0;
    if (inRef || inCon) tab.clear();
    if (inRef) addOwn(refTables(d, n), tab, n, id);
    if (inCon) addOwn(conTables(d, n), tab, n, id);
  }

  KOKKOS_INLINE_FUNCTION LmTables refTables(const std::size_t d, const std::uint64_t n) const {
    return tables(lmTable.data(), nullptr, lmUniMask, lmNgramMask, lmTotal, 0,
                  (loo(d) & kLooReference) != 0, n);
  }
  KOKKOS_INLINE_FUNCTION LmTables conTables(const std::size_t d, const std::uint64_t n) const {
    const bool withCon = conTable.extent(0) > 0;
    return tables(withCon ? conTable.data() : lmTable.data(), nullptr, conUniMask, conNgramMask,
                  conTotal, 4, withCon && (loo(d) & kLooContrast) != 0, n);
  }

  /// Reference-LM perplexity, the spread of per-sentence and per-token surprisal, and, with a
  /// contrast LM, the per-token surprisal difference between the two; for kFoldScore documents
  /// the same under each fold's LMs. Documents an LM was counted from are scored leave-one-out
  /// under it (and under their own fold's): their own counts, built in the scratch table, are
  /// subtracted.
  KOKKOS_INLINE_FUNCTION void scoreLm(const Member& team, const LmChunk& c, const std::size_t d,
                                      const std::uint64_t n, const std::uint64_t* id,
                                      const ScratchTable& tab) const {
    double res[kNumLmColumns];
    if (lmTable.extent(0) == 0) {
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        for (int k = 0; k < kNumLmColumns; ++k) out(d, lmSlot(k)) = kx::quietNaN();
      });
      return;
    }
    const std::uint8_t m = loo(d);
    const bool withCon = conTable.extent(0) > 0, inRef = (m & kLooReference) != 0,
               inCon = withCon && (m & kLooContrast) != 0;
    const std::uint64_t* R = lmTable.data();
    const std::uint64_t* C = withCon ? conTable.data() : R;
    const LmTables ref = refTables(d, n), con = conTables(d, n);
    lmColumns(team, c, d, n, id, tab, ref, withCon ? con : ref, withCon, res);
    Kokkos::single(Kokkos::PerTeam(team), [&]() {
      for (int k = 0; k < kNumLmColumns; ++k) out(d, lmSlot(k)) = res[k];
    });
    if (outFold.extent(0) == 0) return;
    const bool score = (m & kFoldScore) != 0;
    const int mine = (m & kFold1) != 0 ? 1 : 0;
    for (int f = 0; f < kNumLmFolds; ++f) {
      if (!score) {
        Kokkos::single(Kokkos::PerTeam(team), [&]() {
          for (int k = 0; k < kNumLmColumns; ++k)
            outFold(d, f * kNumLmColumns + k) = kx::quietNaN();
        });
        continue;
      }
      // fold 0: its own tables; fold 1: everything minus fold 0
      const std::uint64_t* rf0 = refFold0.data();
      const std::uint64_t* cf0 = withCon ? conFold0.data() : rf0;
      const LmTables fr = f == 0 ? tables(rf0, nullptr, lmUniMask, lmNgramMask, refFold0Total, 0,
                                          inRef && mine == 0, n)
                                 : tables(R, rf0, lmUniMask, lmNgramMask, lmTotal - refFold0Total,
                                          0, inRef && mine == 1, n);
      const LmTables fc = f == 0 ? tables(cf0, nullptr, conUniMask, conNgramMask, conFold0Total, 4,
                                          inCon && mine == 0, n)
                                 : tables(C, cf0, conUniMask, conNgramMask,
                                          conTotal - conFold0Total, 4, inCon && mine == 1, n);
      lmColumns(team, c, d, n, id, tab, fr, withCon ? fc : fr, withCon, res);
      Kokkos::single(Kokkos::PerTeam(team), [&]() {
        for (int k = 0; k < kNumLmColumns; ++k) outFold(d, f * kNumLmColumns + k) = res[k];
      });
    }
  }
};

/// \brief Scratch capacity of a document with n tokens (lines <= tokens, so one table fits
/// both); a document scored leave-one-out holds its own uni-, bi- and trigram counts (3n + 3 keys)
/// per LM it is left out of.
inline std::uint64_t scratchCapacity(std::uint64_t n, int looLms) {
  const std::uint64_t keys = looLms > 0 ? static_cast<std::uint64_t>(looLms) * (3 * n + 4) : n;
  std::uint64_t c = 16;
  while (c < 2 * keys) c <<= 1;
  return c;
}

/// \brief The salt of the one MinHash permutation, from [dedup] seed.
inline std::uint64_t minHashSalt(std::uint64_t seed) {
  return mix64(seed * 0x2545F4914F6CDD1Dull + 1);
}

template <class ExecSpace>
class SignalScorerImpl final : public SignalScorer {
  using Mem = typename ExecSpace::memory_space;
  template <class T>
  using V = Kokkos::View<T*, Mem>;

 public:
  explicit SignalScorerImpl(const ExecSpace& space = ExecSpace()) : _space(space) {}

  std::string backend() const override { return ExecSpace::name(); }
  int concurrency() const override { return static_cast<int>(_space.concurrency()); }

  void setUnigram(std::span<const std::uint64_t> counts) override {
    const std::size_t nb = counts.size();
    if (nb == 0 || (nb & (nb - 1)) != 0)
      fail("setUnigram", "bucket count {} is not a power of two", counts.size());
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    _surprisal = V<double>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "cleanmix::setUnigram::surprisal"), nb);
    auto h = Kokkos::create_mirror_view(_surprisal);
    const double logDen = std::log2(static_cast<double>(total) + static_cast<double>(nb));
    for (std::size_t b = 0; b < nb; ++b)
      h(b) = logDen - std::log2(static_cast<double>(counts[b]) + 1.0);
    Kokkos::deep_copy(_surprisal, h);
    _mask = nb - 1;
  }

  /// An LM's count table on the device: read in place on host backends, copied to a device;
  /// returns its unigram total N.
  static std::uint64_t uploadLm(V<std::uint64_t>& v, const LmCounts& c, const char* label) {
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible) {
      v = V<std::uint64_t>(const_cast<std::uint64_t*>(c.table.data()), c.table.size());
    } else {
      v = V<std::uint64_t>(Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string(label)),
                           c.table.size());
      Kokkos::View<const std::uint64_t*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>
          h(c.table.data(), c.table.size());
      Kokkos::deep_copy(v, h);
    }
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < c.uniSize(); ++b) total += c.table[b];
    return total;
  }

  void setLm(const LmCounts& c) override {
    _lmTotal = uploadLm(_lmTable, c, "cleanmix::setLm::table");
    _lmUniMask = c.uniSize() - 1;
    _lmNgramMask = c.ngramSize() - 1;
    for (int k = 0; k < 3; ++k) _lambda[k] = c.params.lambda[k];
  }

  void setContrastLm(const LmCounts& c) override {
    if (_lmTable.extent(0) == 0) fail("setContrastLm", "setLm() must be called first");
    _conTotal = uploadLm(_conTable, c, "cleanmix::setContrastLm::table");
    _conUniMask = c.uniSize() - 1;
    _conNgramMask = c.ngramSize() - 1;
  }

  void setFoldLms(const LmCounts& refFold0, const LmCounts& contrastFold0) override {
    if (_lmTable.extent(0) != refFold0.table.size())
      fail("setFoldLms", "call setLm() first, with a fold table of the reference LM's size");
    auto put = [](V<std::uint64_t>& v, const LmCounts& c, std::uint64_t& total) {
      total = uploadLm(v, c, "cleanmix::setFoldLms::table");
    };
    put(_refFold0, refFold0, _refFold0Total);
    if (_conTable.extent(0) > 0) {
      if (_conTable.extent(0) != contrastFold0.table.size())
        fail("setFoldLms", "the contrast fold table must have the contrast LM's size");
      put(_conFold0, contrastFold0, _conFold0Total);
    }
  }

  void setMinHash(const MinHashParams& p) override {
    const int k = p.bands * p.rows;
    if (p.bands < 1 || p.rows < 1 || k > kMaxMinHashes || p.shingle < 1)
      fail("setMinHash",
           "need bands, rows, shingle >= 1 and bands*rows <= {}; got {} x {}, shingle {}",
           kMaxMinHashes, p.bands, p.rows, p.shingle);
    _mh = p;
    _mhOn = true;
  }

  void score(const BatchInput& in, BatchOutput& out) override {
    if (_surprisal.extent(0) == 0) fail("score", "setUnigram() must be called first");
    const std::size_t nd = in.numDocs(), nt = in.numTokens();
    std::vector<std::uint64_t> scr(nd + 1, 0);
    for (std::size_t d = 0; d < nd; ++d)
      scr[d + 1] = scr[d] + scratchCapacity(in.tokOff[d + 1] - in.tokOff[d], looLms(in.loo[d]));

    input(_tokOff, in.tokOff, "tokOff");
    input(_ids, in.ids, "ids");
    input(_lens, in.lens, "lens");
    input(_sentOff, in.sentOff, "sentOff");
    input(_sentLens, in.sentLens, "sentLens");
    input(_lineOff, in.lineOff, "lineOff");
    input(_lineHashes, in.lineHashes, "lineHashes");
    upload(_scrOff, scr, "scrOff");  // a local: always copied
    input(_loo, in.loo, "loo");
    input(_wordOff, in.wordOff, "wordOff");
    input(_words, in.words, "words");
    grow(_bandKeys, nd * static_cast<std::size_t>(_mh.bands), "bandKeys");
    grow(_tkey, scr[nd], "tkey");
    grow(_tcnt, scr[nd], "tcnt");
    grow(_tpos, scr[nd], "tpos");
    grow(_slot, nt, "slot");
    if (_out.extent(0) < nd) {
      _out = decltype(_out)(Kokkos::view_alloc(Kokkos::WithoutInitializing, "cleanmix::score::out"),
                            nd + nd / 2 + 1, kNumRealSlots);
      _outCount = decltype(_outCount)(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "cleanmix::score::outCount"),
          nd + nd / 2 + 1, kNumCountSlots);
    }

    const bool folds = _refFold0.extent(0) > 0;
    if (folds && _outFold.extent(0) < nd)
      _outFold = decltype(_outFold)(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "cleanmix::score::outFold"),
          nd + nd / 2 + 1, kNumLmFolds * kNumLmColumns);
    ScoreFunctor<ExecSpace> f{_tokOff,        _ids,
                              _sentOff,       _lineOff,
                              _lineHashes,    _scrOff,
                              _lens,          _sentLens,
                              _surprisal,     _mask,
                              _loo,           _lmTable,
                              _lmUniMask,     _lmNgramMask,
                              _lmTotal,       _conTable,
                              _conUniMask,    _conNgramMask,
                              _conTotal,      _refFold0,
                              _conFold0,      _refFold0Total,
                              _conFold0Total, _lambda[0],
                              _lambda[1],     _lambda[2],
                              _wordOff,       _words,
                              _mhOn,          _mh.bands,
                              _mh.rows,       _mh.shingle,
                              _mh.seed,       minHashSalt(_mh.seed),
                              _bandKeys,      _tkey,
                              _tcnt,          _tpos,
                              _slot,          _out,
                              _outCount,      folds ? _outFold : decltype(_outFold)()};
    using F = ScoreFunctor<ExecSpace>;
    typename F::Policy policy(_space, static_cast<int>(nd), teamSize());
    policy.set_scratch_size(0, Kokkos::PerTeam(F::scratchBytes()));
    Kokkos::parallel_for("cleanmix::score::signals", policy, f);
    kx::fence(_space, "cleanmix::score::fence");

    out.resize(nd);
    out.bandKeys.resize(_mhOn ? nd * static_cast<std::size_t>(_mh.bands) : 0);
    download(_bandKeys, out.bandKeys.data(), out.bandKeys.size());
    auto hostOut = Kokkos::create_mirror_view(_out);
    Kokkos::deep_copy(hostOut, _out);
    auto hostCount = Kokkos::create_mirror_view(_outCount);
    Kokkos::deep_copy(hostCount, _outCount);
    out.foldLm.clear();
    if (folds) {
      auto hostFold = Kokkos::create_mirror_view(_outFold);
      Kokkos::deep_copy(hostFold, _outFold);
      out.foldLm.resize(nd * kNumLmFolds * kNumLmColumns);
      for (std::size_t d = 0; d < nd; ++d)
        for (int k = 0; k < kNumLmFolds * kNumLmColumns; ++k)
          out.foldLm[d * kNumLmFolds * kNumLmColumns + static_cast<std::size_t>(k)] =
              hostFold(d, k);
    }
    out.visit([&](const ColumnInfo& c, auto& v) {
      if (c.stage != ColumnStage::Kernel) return;
      const int slot = kernelSlot(c.id);
      using T = typename std::decay_t<decltype(v)>::value_type;
      if constexpr (std::is_same_v<T, double>) {
        for (std::size_t d = 0; d < nd; ++d) v[d] = hostOut(d, slot);
      } else if constexpr (std::is_same_v<T, std::uint32_t>) {
        for (std::size_t d = 0; d < nd; ++d) v[d] = hostCount(d, slot);
      }
    });
  }

 private:
  template <class T>
  static void grow(V<T>& v, std::size_t n, const char* what) {
    if (v.extent(0) >= n && v.extent(0) > 0) return;
    const std::size_t cap = n + n / 2 + 16;
    v = V<T>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, std::string("cleanmix::score::") + what),
        cap);
  }
  template <class T>
  static void upload(V<T>& dev, const std::vector<T>& host, const char* what) {
    grow(dev, host.size(), what);
    if (host.empty()) return;
    Kokkos::View<const T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(
        host.data(), host.size());
    Kokkos::deep_copy(Kokkos::subview(dev, std::pair<std::size_t, std::size_t>(0, host.size())), h);
  }
  /// The batch's input arrays: on a host-accessible memory space the kernel reads the
  /// caller's vectors in place (an unmanaged view, valid for this score() call); elsewhere they
  /// are copied to the device.
  template <class T>
  static void input(V<T>& dev, const std::vector<T>& host, const char* what) {
    if constexpr (Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible) {
      (void)what;
      dev = V<T>(const_cast<T*>(host.data()), host.size());
    } else {
      upload(dev, host, what);
    }
  }
  template <class T>
  static void download(const V<T>& dev, T* host, std::size_t n) {
    if (n == 0) return;
    Kokkos::View<T*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> h(host, n);
    Kokkos::deep_copy(h, Kokkos::subview(dev, std::pair<std::size_t, std::size_t>(0, n)));
  }

  /// Threads per document: one on host backends (their threads share out the documents), a
  /// warp-multiple on GPUs ($CLEANMIX_TEAM_SIZE overrides, e.g. for perf/gpu.sh's sweep).
  static int teamSize() {
    if (const char* e = std::getenv("CLEANMIX_TEAM_SIZE"); e && std::atoi(e) > 0)
      return std::atoi(e);
    return Kokkos::SpaceAccessibility<Kokkos::HostSpace, Mem>::accessible ? 1 : 64;
  }

  ExecSpace _space;
  V<double> _surprisal;
  std::uint64_t _mask = 0;
  V<std::uint64_t> _tokOff, _ids, _sentOff, _lineOff, _lineHashes, _scrOff, _tkey;
  V<std::uint32_t> _lens, _sentLens, _tcnt, _tpos, _slot;
  V<std::uint8_t> _loo;
  V<std::uint64_t> _wordOff, _words, _bandKeys;
  MinHashParams _mh;
  bool _mhOn = false;
  V<std::uint64_t> _lmTable;
  std::uint64_t _lmUniMask = 0, _lmNgramMask = 0, _lmTotal = 0;
  V<std::uint64_t> _conTable;
  std::uint64_t _conUniMask = 0, _conNgramMask = 0, _conTotal = 0;
  V<std::uint64_t> _refFold0, _conFold0;
  std::uint64_t _refFold0Total = 0, _conFold0Total = 0;
  double _lambda[3] = {0, 0, 0};
  Kokkos::View<double**, Kokkos::LayoutLeft, Mem> _out;
  Kokkos::View<std::uint32_t**, Kokkos::LayoutLeft, Mem> _outCount;
  Kokkos::View<double**, Kokkos::LayoutLeft, Mem> _outFold;
};

}  // namespace cleanmix::kernels
