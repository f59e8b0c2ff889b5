// Uses three layers of an installed cleanmix: the column registry (core), the words tokenizer
// (tokenize) and the config parser (cli), and references the driver's entry point so that the
// link pulls in every module.
#include <cstdio>
#include <string>

#include "cleanmix/cli/config.hpp"
#include "cleanmix/core/columns.hpp"
#include "cleanmix/driver/run.hpp"
#include "cleanmix/tokenize/words.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer CONFIG.toml\n");
    return 2;
  }
  cleanmix::WordsTokenizer tok;
  cleanmix::TokenizedDoc doc;
  tok.tokenize("Hello, World! Straße.", doc, true);
  const cleanmix::RunConfig cfg = cleanmix::loadConfig(argv[1], {});
  auto* entry = &cleanmix::runPipeline;
  std::printf("columns %d first %s\ntokens %zu norm %s\nsources %zu\ndriver %s\n",
              cleanmix::kNumDocColumns, std::string(cleanmix::kDocColumns[0].name).c_str(),
              doc.ids.size(), doc.norm.c_str(), cfg.sources.size(), entry ? "linked" : "missing");
  return 0;
}
