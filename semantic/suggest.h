// "Did you mean" suggestions: the candidates nearest to a misspelled name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace btap::sema {

// Up to `max` candidates within a small edit distance of `name`, nearest first.
std::vector<std::string> Similar(std::string_view name,
                                 const std::vector<std::string_view>& candidates, size_t max = 3);
// " (similar: `a`, `b`)" / "; did you mean `a`?" style tails; empty without candidates.
std::string DidYouMean(const std::vector<std::string>& similar);
std::string SimilarList(const std::vector<std::string>& similar);

}  // namespace btap::sema
