#include "cleanmix/plan/allocate.hpp"

#include <cmath>

#include "cleanmix/core/error.hpp"

namespace cleanmix {

namespace {

/// Water-fill `budget` over units with weights and capacities; adds to `assigned`.
/// Nothing happens for a budget <= 0.
/// Returns what could not be placed.
double waterFill(double budget, const std::vector<double>& weight, const std::vector<double>& cap,
                 std::vector<double>& assigned) {
  const std::size_t n = weight.size();
  std::vector<bool> active(n);
  for (std::size_t i = 0; i < n; ++i) active[i] = weight[i] > 0 && cap[i] - assigned[i] > 0;
  double remaining = budget;
  for (std::size_t round = 0; round <= n && remaining > 0; ++round) {
    double wsum = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (active[i]) wsum += weight[i];
    if (wsum <= 0) break;
    bool capped = false;
    for (std::size_t i = 0; i < n; ++i) {  // saturate every unit the fair share would overfill
      if (!active[i]) continue;
      const double room = cap[i] - assigned[i];
      if (remaining * weight[i] / wsum >= room) {
        assigned[i] = cap[i];
        remaining -= room;
        active[i] = false;
        capped = true;
      }
    }
    if (capped) continue;
    for (std::size_t i = 0; i < n; ++i)
      if (active[i]) assigned[i] += remaining * weight[i] / wsum;
    remaining = 0;
  }
  return remaining > 0 ? remaining : 0.0;
}

/// waterFill over the tiers in order: tier 0 first, what it cannot take goes to tier 1.
double waterFillTiers(double budget, const std::vector<PlanSourceIn>& in,
                      const std::vector<double>& weight, const std::vector<double>& cap,
                      std::vector<double>& assigned) {
  double remaining = budget;
  for (int tier = 0; tier <= 1; ++tier) {
    std::vector<double> w(weight.size(), 0.0);
    for (std::size_t i = 0; i < w.size(); ++i)
      if (std::min(in[i].tier, 1) == tier) w[i] = weight[i];
    remaining = waterFill(remaining, w, cap, assigned);
  }
  return remaining;
}

}  // namespace

bool parseAllocation(const std::string& s, Allocation& out) {
  if (s == "proportional")
    out = Allocation::Proportional;
  else if (s == "temperature")
    out = Allocation::Temperature;
  else if (s == "unimax")
    out = Allocation::UniMax;
  else
    return false;
  return true;
}

PlanResult allocateBudget(const std::vector<PlanSourceIn>& in, const AllocationParams& p) {
  if (p.budget < 0 || p.maxEpochs <= 0 || p.syntheticCap < 0 || p.syntheticCap > 1 ||
      (p.allocation == Allocation::Temperature && p.alpha <= 0))
    fail("allocateBudget",
         "bad parameters (budget {}, max_epochs {}, synthetic_cap {}, temperature_alpha {})",
         p.budget, p.maxEpochs, p.syntheticCap, p.alpha);
  const std::size_t n = in.size();
  PlanResult r;
  r.sources.resize(n);
  // 1. Source shares with the epoch cap.
  std::vector<double> w(n), cap(n), a(n, 0.0);
  for (std::size_t s = 0; s < n; ++s) {
    const double e = in[s].eligibleHuman + in[s].eligibleSynthetic;
    cap[s] = p.maxEpochs * e;
    switch (p.allocation) {
      case Allocation::Proportional: w[s] = e; break;
      case Allocation::Temperature: w[s] = e > 0 ? std::pow(e, p.alpha) : 0; break;
      case Allocation::UniMax: w[s] = e > 0 ? 1.0 : 0; break;
    }
  }
  waterFillTiers(p.budget, in, w, cap, a);
  // 2. Split each source between its classes by eligible tokens (same epochs for both).
  std::vector<double> h(n), sy(n);
  for (std::size_t s = 0; s < n; ++s) {
    const double e = in[s].eligibleHuman + in[s].eligibleSynthetic;
    h[s] = e > 0 ? a[s] * in[s].eligibleHuman / e : 0;
    sy[s] = e > 0 ? a[s] * in[s].eligibleSynthetic / e : 0;
  }
  // 3. Synthetic cap, solved exactly: with T the tokens placed so far, humans must hold
  //    (1 - c) T. Water-fill the missing human tokens over units with epoch headroom (source
  //    weights), then scale the synthetic units to S = c / (1 - c) H for the H actually placed.
  if (p.syntheticCap < 1) {
    double H = 0, S = 0;
    for (std::size_t s = 0; s < n; ++s) H += h[s], S += sy[s];
    const double c = p.syntheticCap;
    if (S > c * (H + S) * (1 + 1e-12)) {
      r.syntheticCapBinding = true;
      std::vector<double> hw(n), hcap(n);
      for (std::size_t s = 0; s < n; ++s) {
        hw[s] = in[s].eligibleHuman > 0 ? w[s] : 0;
        hcap[s] = p.maxEpochs * in[s].eligibleHuman;
      }
      waterFillTiers((1 - c) * (H + S) - H, in, hw, hcap, h);
      double H2 = 0;
      for (std::size_t s = 0; s < n; ++s) H2 += h[s];
      const double scale = S > 0 ? std::min(1.0, c / (1 - c) * H2 / S) : 0.0;
      for (std::size_t s = 0; s < n; ++s) sy[s] *= scale;
    }
  }
  for (std::size_t s = 0; s < n; ++s) {
    auto& o = r.sources[s];
    o.plannedHuman = h[s];
    o.plannedSynthetic = sy[s];
    const double e = in[s].eligibleHuman + in[s].eligibleSynthetic;
    o.epochs = e > 0 ? o.planned() / e : 0;
    o.weight = p.budget > 0 ? o.planned() / p.budget : 0;
    r.planned += o.planned();
  }
  double S = 0;
  for (const auto& o : r.sources) S += o.plannedSynthetic;
  r.syntheticShare = r.planned > 0 ? S / r.planned : 0;
  r.shortfall = p.budget > r.planned ? p.budget - r.planned : 0;
  return r;
}

}  // namespace cleanmix
