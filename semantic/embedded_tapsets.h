// btap's tapset library as built into the binary (generated from tapsets/ at build time).
#pragma once

#include <cstddef>
#include <span>

namespace btap::sema {

struct EmbeddedTapset {
  const char* path;  // relative to tapsets/, e.g. "context.stp"
  const char* text;
  size_t size;
};

std::span<const EmbeddedTapset> EmbeddedTapsets();

}  // namespace btap::sema
