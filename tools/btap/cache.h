// The compiled-object cache (DESIGN decision 10): objects keyed by a hash of every input
// known before pass 1, with the files only pass 2 finds (probed binaries) recorded in the
// entry and checked on a hit, so that a repeated script skips passes 1 to 4.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "common/object_meta.h"
#include "frontend/preprocessor.h"
#include "semantic/machine/kernel_image.h"
#include "tools/btap/options.h"

namespace btap::driver {

// stap's default `cache_mb_limit`, in MiB.
inline constexpr uint64_t kDefaultCacheLimitMb = 256;

// Where the cache lives: $BTAP_CACHE, else $XDG_CACHE_HOME/btap/objects, else
// $HOME/.cache/btap/objects ("" when none of them is set).
std::string DefaultCacheDir();

// The key: a hex digest of btap's own build, the script text and arguments, every option
// that changes passes 1 to 4, the tapset files btap would search (their names and
// contents) and the target kernel's identity.
std::string CacheKey(const Options& options, const std::string& script_text,
                     const frontend::PPConfig& pp, const sema::TargetKernel& kernel);

class ObjectCache {
 public:
  // `dir` "" disables the cache. Notes (why the cache is not used, damaged entries) go to
  // `err` at -v; copies and evictions at -vv, in stap's words.
  ObjectCache(std::string dir, int verbose, std::ostream& err);

  // Creates the folder if needed; false (with a -v note) when it cannot be used: it cannot
  // be made or written, or another user could write it.
  bool Usable();

  // The entry's path (whether or not it exists).
  std::string EntryPath(const std::string& key) const;

  // A valid entry's object, its metadata and the warnings its compilation printed. False
  // for no entry, or one that is stale (a file it recorded changed) or damaged (a digest
  // does not match): then the caller compiles and stores.
  bool Lookup(const std::string& key, std::vector<uint8_t>* object, meta::Meta* meta,
              std::string* warnings);

  // Stores `object` and `warnings` under `key`, recording the files its probes name (user
  // binaries) and `files` (the headers `@cast` types came from) as they are now; written to a
  // temporary file and renamed, so readers and concurrent writers see a whole entry or none. Then
  // evicts the oldest entries over the limit.
  void Store(const std::string& key, std::span<const uint8_t> object,
             const std::string& warnings = "", const std::vector<std::string>& files = {});

  // Removes every entry; returns how many.
  size_t Clean();

  // Removes the least recently used entries until the cache is within `limit_bytes`.
  void Evict(uint64_t limit_bytes);

  // The size limit: `cache_mb_limit` in the folder (MiB), created with the default when
  // missing, as stap does.
  uint64_t LimitBytes();

 private:
  std::string dir_;
  int verbose_;
  std::ostream& err_;
};

}  // namespace btap::driver
