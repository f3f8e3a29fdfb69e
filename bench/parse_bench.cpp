// Parser benchmark: parses SystemTap's whole tapset corpus (every .stp and .stpm file,
// each under the runtime and architecture it is written for) and reports lines per
// second, time per pass and peak memory. Target: the ~124k lines in under one second.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/tapset_corpus.h"

int main(int argc, char** argv) {
  std::string root = argc > 1 && argv[1][0] ? argv[1] : btap::corpus::DefaultRoot();
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  auto groups = btap::corpus::Plan(root);
  double best = 1e9;
  btap::corpus::Totals totals;
  for (int i = 0; i < rounds; ++i) {
    auto start = std::chrono::steady_clock::now();
    totals = btap::corpus::ParseAll(groups, /*check_round_trip=*/false, nullptr);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s < best) best = s;
  }
  if (totals.files == 0) {
    std::fprintf(stderr, "parse_bench: no tapset files under %s (run tests/fetch-corpus.sh)\n",
                 root.c_str());
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("files            %zu\n", totals.files);
  std::printf("lines            %zu\n", totals.lines);
  std::printf("failures         %zu\n", totals.failures);
  std::printf("best of %d       %.1f ms\n", rounds, best * 1000);
  std::printf("lines processed  %zu (library macro files once per runtime/arch)\n",
              totals.lines_processed);
  double lines = static_cast<double>(totals.lines_processed);
  std::printf("lines/second     %.0f\n", lines / best);
  std::printf("us per 300 lines %.1f\n", best * 1e6 * 300 / lines);
  std::printf("peak RSS         %ld KiB\n", ru.ru_maxrss);
  return totals.failures ? 1 : 0;
}
