#include <xxhash.h>

#include <algorithm>
#include <map>
#include <ostream>

#include "cleanmix/core/columns.hpp"
#include "cleanmix/core/error.hpp"
#include "cleanmix/core/types.hpp"
#include "cleanmix/io/h5.hpp"
#include "cleanmix/output/writer.hpp"

namespace cleanmix {
namespace {

using h5::check;
using h5::checkId;
using h5::elements;
using h5::Id;
using h5::readColumn;
using h5::readStrings;
using h5::shapeOf;

std::string readAttrString(hid_t loc, const char* name) {
  if (H5Aexists(loc, name) <= 0) return {};
  Id a(checkId(H5Aopen(loc, name, H5P_DEFAULT), name), H5Aclose);
  Id t(checkId(H5Aget_type(a), name), H5Tclose);
  std::string s(H5Tget_size(t), '\0');
  check(H5Aread(a, t, s.data()), name);
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::uint64_t readAttrU64(hid_t loc, const char* name) {
  if (H5Aexists(loc, name) <= 0) return 0;
  Id a(checkId(H5Aopen(loc, name, H5P_DEFAULT), name), H5Aclose);
  std::uint64_t v = 0;
  check(H5Aread(a, H5T_NATIVE_UINT64, &v), name);
  return v;
}

struct DigestCtx {
  std::ostream* os;
};

herr_t digestVisit(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  if (info->type != H5O_TYPE_DATASET) return 0;
  const std::string path = std::string("/") + name;
  if (path == "/timing") return 0;
  auto* ctx = static_cast<DigestCtx*>(data);
  Id d(checkId(H5Dopen2(obj, name, H5P_DEFAULT), name), H5Dclose);
  Id t(checkId(H5Dget_type(d), name), H5Tclose);
  Id nt(checkId(H5Tget_native_type(t, H5T_DIR_ASCEND), name), H5Tclose);
  const auto dims = shapeOf(d);
  const std::uint64_t n = elements(dims);
  std::vector<char> buf(n * H5Tget_size(nt));
  if (n) check(H5Dread(d, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), name);
  std::string shape;
  for (auto x : dims) shape += (shape.empty() ? "" : "x") + std::to_string(x);
  *ctx->os << fmt::format("{:016x}  {}  [{}]\n", XXH3_64bits(buf.data(), buf.size()), path, shape);
  return 0;
}

}  // namespace

namespace {

/// /sources with totals, the line reconciliation and the quarantine reasons.
void printSources(const Id& f, std::ostream& os) {
  const auto names = readStrings(f, "/sources/name");
  const auto prov = readColumn<std::uint8_t>(f, "/sources/provenance");
  const auto role = readColumn<std::uint8_t>(f, "/sources/role");
  const auto nDocs = readColumn<std::uint64_t>(f, "/sources/n_docs");
  const auto nTok = readColumn<std::uint64_t>(f, "/sources/n_tokens");
  const auto nQ = readColumn<std::uint64_t>(f, "/sources/n_quarantined");
  const auto nShards = readColumn<std::uint64_t>(f, "/sources/n_shards");
  std::uint64_t docs = 0, toks = 0, quar = 0;
  os << fmt::format("\n  {:<16} {:<20} {:<10} {:>6} {:>9} {:>12} {:>11}\n", "source", "provenance",
                    "role", "shards", "docs", "tokens", "quarantined");
  for (std::size_t i = 0; i < names.size(); ++i) {
    os << fmt::format("  {:<16} {:<20} {:<10} {:>6} {:>9} {:>12} {:>11}\n", names[i],
                      toString(static_cast<Provenance>(prov[i])),
                      toString(static_cast<Role>(role[i])), nShards[i], nDocs[i], nTok[i], nQ[i]);
    docs += nDocs[i];
    toks += nTok[i];
    quar += nQ[i];
  }
  const auto lines = readColumn<std::uint64_t>(f, "/shards/n_lines");
  std::uint64_t nLines = 0;
  for (auto l : lines) nLines += l;
  os << fmt::format("  {:<48} {:>6} {:>9} {:>12} {:>11}\n", "total", lines.size(), docs, toks,
                    quar);
  os << fmt::format("\n  input lines {} = docs {} + quarantined {}: {}\n", nLines, docs, quar,
                    nLines == docs + quar ? "reconciled" : "MISMATCH");

  if (quar > 0) {
    const auto reasons = readStrings(f, "/errors/reason");
    std::map<std::string, std::uint64_t> byReason;
    for (const auto& r : reasons) ++byReason[r.substr(0, r.find(':'))];
    os << "  quarantine reasons:";
    for (const auto& [r, n] : byReason) os << fmt::format(" {}={}", r, n);
    os << "\n";
  }
}

/// /vocab/stats: one row per provenance class with tokens.
void printVocab(const Id& f, std::ostream& os) {
  const auto cls = readStrings(f, "/vocab/stats/class");
  const auto vt = readColumn<std::uint64_t>(f, "/vocab/stats/tokens");
  const auto vy = readColumn<std::uint64_t>(f, "/vocab/stats/types");
  const auto ve = readColumn<double>(f, "/vocab/stats/entropy_bits");
  const auto vm = readColumn<double>(f, "/vocab/stats/miller_madow_bits");
  const auto f1 = readColumn<std::uint64_t>(f, "/vocab/stats/f1");
  const auto chao = readColumn<double>(f, "/vocab/stats/chao1");
  os << fmt::format("\n  {:<20} {:>12} {:>9} {:>9} {:>9} {:>9} {:>11}\n", "vocab class", "tokens",
                    "types", "H bits", "H_MM", "f1", "Chao1");
  for (std::size_t i = 0; i < cls.size(); ++i)
    if (vt[i] > 0)
      os << fmt::format("  {:<20} {:>12} {:>9} {:>9.4f} {:>9.4f} {:>9} {:>11.1f}\n", cls[i], vt[i],
                        vy[i], ve[i], vm[i], f1[i], chao[i]);
}

/// Median of every real-valued registry column per declared provenance class.
void printMedians(const Id& f, std::ostream& os) {
  // Median of every real-valued registry column, per declared provenance class.
  const auto dprov = readColumn<std::uint8_t>(f, "/docs/provenance");
  std::vector<std::vector<std::size_t>> rowsOf(kNumProvenance);
  for (std::size_t i = 0; i < dprov.size(); ++i)
    if (dprov[i] < kNumProvenance) rowsOf[dprov[i]].push_back(i);
  os << fmt::format("\n  {:<20}", "median per class");
  for (int p = 0; p < kNumProvenance; ++p)
    if (!rowsOf[p].empty()) os << fmt::format(" {:>19}", toString(static_cast<Provenance>(p)));
  os << fmt::format("\n  {:<20}", "docs");
  for (const auto& rows : rowsOf)
    if (!rows.empty()) os << fmt::format(" {:>19}", rows.size());
  os << "\n";
  for (const auto& c : kDocColumns) {
    const std::string path = "/docs/" + std::string(c.name);
    if (c.type != ColumnType::F64 || H5Lexists(f, path.c_str(), H5P_DEFAULT) <= 0) continue;
    const auto v = readColumn<double>(f, path);
    os << fmt::format("  {:<20}", c.name);
    for (const auto& rows : rowsOf) {
      if (rows.empty()) continue;
      std::vector<double> x;
      x.reserve(rows.size());
      for (auto r : rows) x.push_back(v[r]);
      std::nth_element(x.begin(), x.begin() + x.size() / 2, x.end());
      os << fmt::format(" {:>19.4g}", x[x.size() / 2]);
    }
    os << "\n";
  }
}

}  // namespace

int inspectFile(const std::filesystem::path& file, bool digest, std::ostream& os) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t fid = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (fid < 0) fail("inspect", "cannot open '{}' as HDF5", file.string());
  Id f(fid, H5Fclose);

  if (digest) {
    DigestCtx ctx{&os};
    check(H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, digestVisit, &ctx), "inspect");
    return 0;
  }

  os << fmt::format("{}\n  cleanmix {} (schema {}), {} ranks, seed {}, backend {}\n", file.string(),
                    readAttrString(f, "cleanmix_version"), readAttrU64(f, "schema_version"),
                    readAttrU64(f, "n_ranks"), readAttrU64(f, "seed"),
                    readAttrString(f, "kokkos_backend"));

  printSources(f, os);
  printVocab(f, os);
  printMedians(f, os);

  const auto names = readStrings(f, "/sources/name");
  // Verdicts and inferred provenance per source.
  const auto verdicts = readColumn<std::uint64_t>(f, "/sources/verdict_counts");
  const auto inferred = readColumn<std::uint64_t>(f, "/sources/inferred_counts");
  os << fmt::format("\n  {:<16}", "verdicts");
  for (const auto& v : verdictLabels()) os << fmt::format(" {:>8.8}", v);
  os << fmt::format("  {:>10}\n", "inferred SS");
  for (std::size_t i = 0; i < names.size(); ++i) {
    os << fmt::format("  {:<16}", names[i]);
    for (int v = 0; v < kNumVerdicts; ++v)
      os << fmt::format(" {:>8}", verdicts[i * kNumVerdicts + v]);
    os << fmt::format("  {:>10}\n", inferred[i * kNumProvenance + 3]);
  }
  {
    Id cg(checkId(H5Gopen2(f, "/classifier", H5P_DEFAULT), "inspect"), H5Gclose);
    if (readAttrU64(cg, "enabled")) {
      auto attr = [&](const char* n) {
        Id a(checkId(H5Aopen(cg, n, H5P_DEFAULT), n), H5Aclose);
        double v = 0;
        check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), n);
        return v;
      };
      os << fmt::format(
          "\n  classifier ({}, decides: {}): held-out {} docs; linear P {:.3f} R {:.3f} F1 {:.3f} "
          "AUROC {:.3f} FPR {:.3f}; vote P {:.3f} R {:.3f} F1 {:.3f} AUROC {:.3f}\n",
          readAttrString(cg, "model"), readAttrString(cg, "decision"),
          readAttrU64(cg, "holdout_docs"), attr("holdout_linear_precision"),
          attr("holdout_linear_recall"), attr("holdout_linear_f1"), attr("holdout_linear_auroc"),
          attr("holdout_linear_fpr"), attr("holdout_vote_precision"), attr("holdout_vote_recall"),
          attr("holdout_vote_f1"), attr("holdout_vote_auroc"));
      if (H5Aexists(cg, "not_judged") > 0)
        os << fmt::format("  not judged (outside the labelled data's range): {} documents\n",
                          readAttrU64(cg, "not_judged"));
      if (H5Lexists(f, "/classifier/groups", H5P_DEFAULT) > 0) {
        Id gg(checkId(H5Gopen2(f, "/classifier/groups", H5P_DEFAULT), "inspect"), H5Gclose);
        if (H5Aexists(gg, "auroc") > 0) {
          auto ga = [&](const char* n) {
            Id a(checkId(H5Aopen(gg, n, H5P_DEFAULT), n), H5Aclose);
            double v = 0;
            check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), n);
            return v;
          };
          const double human = static_cast<double>(readAttrU64(gg, "human"));
          const double syn = static_cast<double>(readAttrU64(gg, "synthetic"));
          os << fmt::format(
              "  leave-one-group-out: AUROC {:.3f}, TPR {:.3f} at 1% FPR, {:.3f} at 5%; FPR {:.3f} "
              "recall {:.3f}; linear threshold from {}\n",
              ga("auroc"), ga("tpr_at_fpr_0.01"), ga("tpr_at_fpr_0.05"),
              human > 0 ? static_cast<double>(readAttrU64(gg, "false_positives")) / human : 0.0,
              syn > 0 ? static_cast<double>(readAttrU64(gg, "true_positives")) / syn : 0.0,
              readAttrString(cg, "threshold_from"));
        }
      }
    }
  }

  if (H5Lexists(f, "/plan", H5P_DEFAULT) > 0) {
    Id ps(checkId(H5Gopen2(f, "/plan/summary", H5P_DEFAULT), "inspect"), H5Gclose);
    auto d = [&](const char* n) {
      Id a(checkId(H5Aopen(ps, n, H5P_DEFAULT), n), H5Aclose);
      double v = 0;
      check(H5Aread(a, H5T_NATIVE_DOUBLE, &v), n);
      return v;
    };
    const auto types = readColumn<std::uint64_t>(f, "/plan/coverage/types");
    const auto gt = readColumn<double>(f, "/plan/coverage/good_turing_unseen");
    const auto chao = readColumn<double>(f, "/plan/coverage/chao1");
    os << fmt::format(
        "\n  plan ({}): budget {:.0f}, realised {} tokens, shortfall {:.0f}, synthetic share "
        "{:.4f} (cap {})\n  tail coverage: mix types {} (Good-Turing unseen {:.4f}, Chao1 {:.0f}) "
        "vs reference types {} ({:.4f}, {:.0f})\n",
        readAttrString(ps, "allocation"), d("budget_tokens"), readAttrU64(ps, "realised_tokens"),
        d("shortfall_tokens"), d("realised_synthetic_share"), d("synthetic_cap"), types[0], gt[0],
        chao[0], types[1], gt[1], chao[1]);
  }

  // Timing: slowest rank per phase.
  Id td(checkId(H5Dopen2(f, "/timing", H5P_DEFAULT), "inspect"), H5Dclose);
  const auto tdims = shapeOf(td);
  if (tdims.size() == 2) {
    std::vector<double> t(elements(tdims));
    if (!t.empty())
      check(H5Dread(td, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()), "inspect");
    Id a(checkId(H5Aopen(td, "phases", H5P_DEFAULT), "inspect"), H5Aclose);
    Id at(checkId(H5Aget_type(a), "inspect"), H5Tclose);
    const std::size_t w = H5Tget_size(at);
    std::vector<char> pb(tdims[1] * w);
    check(H5Aread(a, at, pb.data()), "inspect");
    os << "\n  timing (max over ranks, s):";
    double total = 0;
    for (hsize_t p = 0; p < tdims[1]; ++p) {
      double mx = 0;
      for (hsize_t r = 0; r < tdims[0]; ++r) mx = std::max(mx, t[r * tdims[1] + p]);
      total += mx;
      std::string name(pb.data() + p * w, w);
      name.resize(std::strlen(name.c_str()));
      os << fmt::format(" {}={:.3f}", name, mx);
    }
    os << fmt::format("  (sum {:.3f})\n", total);
  }
  return 0;
}

}  // namespace cleanmix
