#include "cleanmix/stages/plan.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cleanmix/comm/communicator.hpp"
#include "cleanmix/core/hash.hpp"
#include "cleanmix/plan/allocate.hpp"

namespace cleanmix {
namespace {

constexpr int kTailBins = 64;  // 0.5-bit bins of tail_score over [0, 32)
int tailBin(double t) {
  return std::clamp(static_cast<int>(t * 2.0), 0, kTailBins - 1);
}
constexpr int kPplBins = 128;  // 0.25-bit bins of log2 ref_ppl over [0, 32)
int pplBin(double ppl) {
  if (!(std::isfinite(ppl) && ppl > 0)) return 0;
  return std::clamp(static_cast<int>(std::log2(ppl) * 4.0), 0, kPplBins - 1);
}
constexpr double kFixed = 65536.0;  // fixed-point scale for exact, order-free sums

}  // namespace

PlanSummary runPlan(const Communicator& comm, const PlanParams& params,
                    const std::vector<SourceConfig>& sources, std::uint64_t seed, DocRows& docs,
                    std::uint64_t docOffset) {
  PlanSummary plan;
  const std::size_t ns = sources.size(), n = docs.size(), nu = 2 * ns;
  const double R = params.maxRepeats;
  docs.repeats.assign(n, 0);

  // 1. Eligibility: pool documents that are kept (not duplicate, not contaminated) and pass the
  //    quality gates; the unit is (source, synthetic?) with synthetic = SK or inferred SS.
  std::vector<int> unit(n, -1);
  std::vector<std::uint64_t> eligible(nu, 0), anchorHist(kPplBins, 0), unitPpl(nu * kPplBins, 0),
      unitHist(nu * kTailBins, 0), maxDoc(nu, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& src = sources[docs.source[i]];
    if (src.role == Role::Anchor) anchorHist[pplBin(docs.refPpl[i])] += docs.nTokens[i];
    if (src.role != Role::Pool || docs.verdict[i] != static_cast<std::uint8_t>(Verdict::Keep))
      continue;
    const bool pass = docs.nTokens[i] >= params.minTokens && docs.nTokens[i] <= params.maxTokens &&
                      docs.dupLineFrac[i] <= params.maxDupLineFrac &&
                      docs.top2gramFrac[i] <= params.maxTop2gramFrac &&
                      docs.dup5gramFrac[i] <= params.maxDup5gramFrac;
    if (!pass) {
      docs.verdict[i] = static_cast<std::uint8_t>(Verdict::LowQuality);
      continue;
    }
    const auto inf = static_cast<Provenance>(docs.inferred[i]);
    const bool synth = inf == Provenance::SyntheticKnown || inf == Provenance::SyntheticSuspected;
    const int u = 2 * docs.source[i] + (synth ? 1 : 0);
    unit[i] = u;
    eligible[u] += docs.nTokens[i];
    unitHist[u * kTailBins + tailBin(docs.tailScore[i])] += docs.nTokens[i];
    unitPpl[u * kPplBins + pplBin(docs.refPpl[i])] += docs.nTokens[i];
    maxDoc[u] = std::max<std::uint64_t>(maxDoc[u], docs.nTokens[i]);
  }
  comm.allreduceSum(std::span<std::uint64_t>(eligible));
  comm.allreduceSum(std::span<std::uint64_t>(anchorHist));
  comm.allreduceSum(std::span<std::uint64_t>(unitHist));
  comm.allreduceSum(std::span<std::uint64_t>(unitPpl));

  // 2. Allocation across sources (identical on every rank: same integers in, same doubles out).
  std::vector<PlanSourceIn> in(ns);
  double total = 0;
  for (std::size_t s = 0; s < ns; ++s) {
    const int tier =
        params.unknownProvenance == "after_declared" && sources[s].provenance == Provenance::Unknown
            ? 1
            : 0;
    in[s] = {static_cast<double>(eligible[2 * s]), static_cast<double>(eligible[2 * s + 1]), tier};
    total += in[s].eligibleHuman + in[s].eligibleSynthetic;
  }
  AllocationParams pp;
  pp.budget = params.budget > 0 ? params.budget : total;
  parseAllocation(params.allocation, pp.allocation);
  pp.alpha = params.alpha;
  pp.maxEpochs = std::min<double>(params.maxEpochs, R);  // a document repeats at most R times
  pp.syntheticCap = params.syntheticCap;
  const PlanResult res = allocateBudget(in, pp);
  std::vector<double> target(nu);
  for (std::size_t s = 0; s < ns; ++s) {
    target[2 * s] = res.sources[s].plannedHuman;
    target[2 * s + 1] = res.sources[s].plannedSynthetic;
  }

  // 3. Importance weights. Toward the anchor: the density ratio of the anchor's and the unit's
  //    token-weighted histograms of log2 ref_ppl, clipped to [0.5, 2] (1 without an LM), so the
  //    mix leans to text the human reference finds typical. Rare-but-good: times
  //    4^(tail_boost * q), q the document's tail_score quantile within its unit, so the rarest
  //    documents weigh up to 4x the most common and the tail wins where the two disagree.
  //    Gates and provenance were applied in step 1.
  double anchorTotal = 0;
  for (auto c : anchorHist) anchorTotal += static_cast<double>(c);
  std::vector<double> unitCdf(nu * kTailBins, 0);
  for (std::size_t u = 0; u < nu; ++u) {
    double acc = 0;
    for (int b = 0; b < kTailBins; ++b) {
      acc += static_cast<double>(unitHist[u * kTailBins + b]);
      unitCdf[u * kTailBins + b] = eligible[u] ? acc / static_cast<double>(eligible[u]) : 0;
    }
  }
  std::vector<double> w(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (unit[i] < 0) continue;
    const int u = unit[i];
    const int pb = pplBin(docs.refPpl[i]);
    const double ut = static_cast<double>(eligible[u]);
    double ratio = 1.0;
    if (anchorTotal > 0 && std::isfinite(docs.refPpl[i])) {
      const double pa = anchorHist[pb] / anchorTotal;
      const double pu = unitPpl[u * kPplBins + pb] / ut;
      ratio = std::clamp((pa + 1e-3) / (pu + 1e-3), 0.5, 2.0);
    }
    w[i] = ratio *
           std::pow(4.0, params.tailBoost * unitCdf[u * kTailBins + tailBin(docs.tailScore[i])]);
  }

  // 4. Scale per unit: sum_i clamp(s w_i, f_u, R) n_i = target, found by bisection on exact
  //    fixed-point integer sums (so s is the same at every rank count). The floor f_u is 1 for a
  //    human unit whose target covers its eligible tokens (cover_first): every eligible human
  //    document is placed once before any is repeated; otherwise 0.
  std::vector<double> floorOf(nu, 0.0);
  for (std::size_t u = 0; u < nu; u += 2)
    if (params.coverFirst && eligible[u] > 0 &&
        target[u] >= static_cast<double>(eligible[u]) * (1 - 1e-12))
      floorOf[u] = 1.0;
  std::vector<double> lo(nu, 0.0), hi(nu, 0.0);
  double wmin = 1e300;
  for (std::size_t i = 0; i < n; ++i)
    if (unit[i] >= 0) wmin = std::min(wmin, w[i]);
  wmin = comm.allreduceMin(wmin);
  for (std::size_t u = 0; u < nu; ++u) hi[u] = R / std::max(wmin, 1e-12);
  std::vector<std::uint64_t> sums(nu);
  auto massAt = [&](const std::vector<double>& scale) {
    std::fill(sums.begin(), sums.end(), 0);
    for (std::size_t i = 0; i < n; ++i)
      if (unit[i] >= 0)
        sums[unit[i]] += static_cast<std::uint64_t>(
            std::llround(std::clamp(scale[unit[i]] * w[i], floorOf[unit[i]], R) *
                         static_cast<double>(docs.nTokens[i]) * kFixed));
    comm.allreduceSum(std::span<std::uint64_t>(sums));
  };
  for (int it = 0; it < 100; ++it) {
    std::vector<double> mid(nu);
    for (std::size_t u = 0; u < nu; ++u) mid[u] = 0.5 * (lo[u] + hi[u]);
    massAt(mid);
    for (std::size_t u = 0; u < nu; ++u)
      (static_cast<double>(sums[u]) / kFixed < target[u] ? lo[u] : hi[u]) = mid[u];
  }
  std::vector<double> x(n, 0);  // expected repeats
  for (std::size_t i = 0; i < n; ++i)
    if (unit[i] >= 0) x[i] = std::clamp(hi[unit[i]] * w[i], floorOf[unit[i]], R);

  // 5. Integer repeats by error diffusion in doc_id order, carried rank to rank. Human units
  //    first, with a dither from the counter-based RNG keyed by (seed, doc_id): each lands within
  //    one document of its target. Then synthetic units, whose targets are recomputed from the
  //    realised human tokens and rounded down, so the realised synthetic share never exceeds
  //    the cap.
  auto diffuse = [&](int cls, const std::vector<double>& tgtScale, bool dither) {
    std::vector<double> carry(nu, 0.0);
    if (comm.rank() > 0) comm.recv(carry, comm.rank() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const int u = unit[i];
      if (u < 0 || u % 2 != cls || docs.nTokens[i] == 0) continue;
      const double nt = static_cast<double>(docs.nTokens[i]);
      const double y = x[i] * tgtScale[u] * nt;
      const double v = (y + carry[u]) / nt;
      double r = dither ? std::floor(v + counterUniform(seed, docOffset + i)) : std::floor(v);
      r = std::clamp(r, floorOf[u], R);  // the floor holds whatever the carry says
      docs.repeats[i] = static_cast<std::uint32_t>(r);
      carry[u] += y - r * nt;
    }
    if (comm.rank() + 1 < comm.size()) comm.send(carry, comm.rank() + 1);
  };
  const std::vector<double> one(nu, 1.0);
  diffuse(0, one, true);
  std::vector<std::uint64_t> realised(nu, 0);
  auto tally = [&] {
    std::fill(realised.begin(), realised.end(), 0);
    for (std::size_t i = 0; i < n; ++i)
      if (unit[i] >= 0)
        realised[unit[i]] += static_cast<std::uint64_t>(docs.repeats[i]) * docs.nTokens[i];
    comm.allreduceSum(std::span<std::uint64_t>(realised));
  };
  tally();
  double H = 0, S = 0;
  for (std::size_t s = 0; s < ns; ++s)
    H += static_cast<double>(realised[2 * s]), S += target[2 * s + 1];
  const double c = params.syntheticCap;
  const double sAllowed = c < 1 ? std::min(S, c / (1 - c) * H) : S;
  std::vector<double> sScale(nu, 1.0);
  for (std::size_t s = 0; s < ns; ++s) sScale[2 * s + 1] = S > 0 ? sAllowed / S : 0;
  diffuse(1, sScale, false);
  tally();

  // 6. Verdicts and the summary.
  for (std::size_t i = 0; i < n; ++i)
    if (unit[i] >= 0 && unit[i] % 2 == 1 && docs.repeats[i] == 0 && res.syntheticCapBinding)
      docs.verdict[i] = static_cast<std::uint8_t>(Verdict::SyntheticCapped);
  plan.enabled = true;
  plan.allocation = params.allocation;
  plan.budget = pp.budget;
  plan.planned = res.planned;
  plan.shortfall = res.shortfall;
  plan.plannedSyntheticShare = res.syntheticShare;
  plan.syntheticCapBinding = res.syntheticCapBinding;
  plan.unknownProvenance = params.unknownProvenance;
  plan.coverFirst = params.coverFirst;
  plan.maxEpochs = pp.maxEpochs;
  plan.syntheticCap = c;
  plan.alpha = params.alpha;
  plan.maxRepeats = params.maxRepeats;
  for (int k = 0; k < 2; ++k) {
    plan.eligible[k].resize(ns);
    plan.plannedBy[k].resize(ns);
    plan.realisedBy[k].resize(ns);
  }
  plan.epochs.resize(ns);
  plan.weight.resize(ns);
  plan.realised = plan.realisedSynthetic = 0;
  for (std::size_t s = 0; s < ns; ++s) {
    plan.eligible[0][s] = in[s].eligibleHuman;
    plan.eligible[1][s] = in[s].eligibleSynthetic;
    plan.plannedBy[0][s] = res.sources[s].plannedHuman;
    plan.plannedBy[1][s] = res.sources[s].plannedSynthetic;
    plan.realisedBy[0][s] = realised[2 * s];
    plan.realisedBy[1][s] = realised[2 * s + 1];
    plan.epochs[s] = res.sources[s].epochs;
    plan.weight[s] = res.sources[s].weight;
    plan.realised += realised[2 * s] + realised[2 * s + 1];
    plan.realisedSynthetic += realised[2 * s + 1];
  }
  return plan;
}

void setCoverage(PlanSummary& plan, std::vector<std::uint64_t> mixCounts,
                 std::vector<std::uint64_t> referenceCounts, bool root) {
  plan.mix = computeVocabStats(mixCounts);
  plan.reference = computeVocabStats(referenceCounts);
  plan.mixCounts = std::move(mixCounts);
  plan.referenceCounts = std::move(referenceCounts);
  if (root)
    fmt::print(stderr,
               "[cleanmix] plan ({}): budget {:.0f}, planned {:.0f}, realised {}, shortfall "
               "{:.0f}, synthetic share {:.4f} (cap {}); mix types {} vs reference {}\n",
               plan.allocation, plan.budget, plan.planned, plan.realised, plan.shortfall,
               plan.realised ? static_cast<double>(plan.realisedSynthetic) /
                                   static_cast<double>(plan.realised)
                             : 0.0,
               plan.syntheticCap, plan.mix.types, plan.reference.types);
}

}  // namespace cleanmix
