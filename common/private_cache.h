// btap's private cache folders under ~/.cache/btap (kernel BTF copies, kernel-type headers):
// their files are compiled into probes, so a folder is trusted only when it is ours and
// nobody else may write it, and files appear whole, under a name of our own first.
#pragma once

#include <string>
#include <string_view>

namespace btap {

// $XDG_CACHE_HOME/btap/SUB, else $HOME/.cache/btap/SUB; "" when neither is set (no /tmp
// fallback: its names would be predictable).
std::string UserCacheDir(std::string_view sub);

// Makes the missing levels of `path` (0700); false, with errno set, unless the folder is
// ours and neither group nor others may write it.
bool MakePrivateDirs(const std::string& path);

// Writes `data` to `path` whole: to a new file of our own (mkostemp), then renamed over
// `path`. False, with errno set, when it could not; nothing is left behind then.
bool WriteWhole(const std::string& path, std::string_view data);

}  // namespace btap
