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

// Opens the folder `path` level by level (each by name below the last, never
// through a symbolic link), making missing levels (0700): a descriptor of the folder, or
// -1 with errno set (EPERM) unless the folder is ours and neither group nor others may
// write it, and every level above is root's or ours and writable by others only when
// sticky (as /tmp).
int OpenPrivateDir(const std::string& path);

// OpenPrivateDir, the descriptor closed: whether the folder is private.
bool MakePrivateDirs(const std::string& path);

// Opens the file `name` of the private folder `dir_fd` for reading, not through a link: a
// descriptor, or -1 with errno set (EPERM) unless it is a regular file of ours that
// neither group nor others may write.
int OpenPrivateFile(int dir_fd, const std::string& name);

// Writes `data` to `path` whole: to a new file of our own (mkostemp), then renamed over
// `path`. False, with errno set, when it could not; nothing is left behind then.
bool WriteWhole(const std::string& path, std::string_view data);

}  // namespace btap
