// Edit-distance suggestions for unknown names.
#include "semantic/suggest.h"

#include <algorithm>

namespace btap::sema {
namespace {

// Edit distance where swapping two neighbouring letters is one edit, as typos often do
// (`opne`, `sched_swtich`): the optimal-string-alignment variant of Damerau-Levenshtein.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        row[j] = std::min(row[j], before[j - 2] + 1);
    }
    std::swap(before, prev);
    std::swap(prev, row);
  }
  return prev[b.size()];
}

}  // namespace

std::vector<std::string> Similar(std::string_view name,
                                 const std::vector<std::string_view>& candidates, size_t max) {
  size_t limit = std::max<size_t>(1, name.size() / 3);
  std::vector<std::pair<size_t, std::string_view>> scored;
  for (std::string_view c : candidates) {
    if (c == name) continue;
    size_t d = Distance(name, c);
    if (d <= limit) scored.push_back({d, c});
  }
  std::sort(scored.begin(), scored.end());
  scored.erase(std::unique(scored.begin(), scored.end()), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && out.size() < max; ++i) out.emplace_back(scored[i].second);
  return out;
}

std::string DidYouMean(const std::vector<std::string>& similar) {
  if (similar.empty()) return "";
  std::string s = "; did you mean ";
  for (size_t i = 0; i < similar.size(); ++i) {
    if (i) s += i + 1 == similar.size() ? " or " : ", ";
    s += "`" + similar[i] + "`";
  }
  return s + "?";
}

std::string SimilarList(const std::vector<std::string>& similar) {
  if (similar.empty()) return "";
  std::string s = " (similar: ";
  for (size_t i = 0; i < similar.size(); ++i) s += (i ? ", `" : "`") + similar[i] + "`";
  return s + ")";
}

}  // namespace btap::sema
