// The BPF objects a process holds and whether the kernel still has them, for runtime
// tests that check a session leaves nothing behind. A map is never opened by id here:
// closing such a descriptor of a program array whose owner has just gone makes Linux keep
// the array for good (docs/runtime.md, tools/prog-array-leak.c), so maps are only counted
// by id (BPF_MAP_GET_NEXT_ID takes no reference).
#pragma once

#include <bpf/bpf.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace btap {

// Ids by kind ("map", "prog", "link").
using BpfIds = std::map<std::string, std::set<long>>;

// What process `pid` holds now, by its descriptors' /proc fdinfo; with `map_type`, only
// the maps of that type (BPF_MAP_TYPE_...), with none of the other kinds.
inline BpfIds HeldByDescriptors(pid_t pid, int map_type = -1) {
  BpfIds held;
  std::error_code ec;
  std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream info(entry.path());
    std::map<std::string, long> fields;
    std::string line;
    while (std::getline(info, line)) {
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      if (key != "map_type" && key != "map_id" && key != "prog_id" && key != "link_id") continue;
      try {
        fields[key] = std::stol(line.substr(colon + 1));
      } catch (...) {
      }
    }
    if (map_type >= 0) {
      if (fields.count("map_id") && fields.count("map_type") && fields["map_type"] == map_type)
        held["map"].insert(fields["map_id"]);
      continue;
    }
    for (const char* kind : {"map", "prog", "link"})
      if (fields.count(std::string(kind) + "_id"))
        held[kind].insert(fields[std::string(kind) + "_id"]);
  }
  return held;
}

// The maps programs use (a program opened by id is harmless: programs have no
// clearing of their own).
inline std::set<long> MapsOfPrograms(const std::set<long>& programs) {
  std::set<long> maps;
  for (long id : programs) {
    int fd = bpf_prog_get_fd_by_id(static_cast<__u32>(id));
    if (fd < 0) continue;
    std::vector<__u32> ids(64);  // the kernel's most per program (MAX_USED_MAPS)
    bpf_prog_info info{};
    info.nr_map_ids = static_cast<__u32>(ids.size());
    info.map_ids = reinterpret_cast<__u64>(ids.data());
    __u32 size = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &size) == 0)
      for (__u32 i = 0; i < info.nr_map_ids && i < ids.size(); ++i) maps.insert(ids[i]);
    close(fd);
  }
  return maps;
}

// Whether the kernel still has an object of that kind with that id (next-id queries only).
inline bool BpfObjectExists(const std::string& kind, long id) {
  __u32 next = 0;
  __u32 start = static_cast<__u32>(id - 1);
  int rc = kind == "map"    ? bpf_map_get_next_id(start, &next)
           : kind == "prog" ? bpf_prog_get_next_id(start, &next)
                            : bpf_link_get_next_id(start, &next);
  return rc == 0 && next == static_cast<__u32>(id);
}

// Which of `held` the kernel still has ("map 12; prog 40; ").
inline std::string StillInKernel(const BpfIds& held) {
  std::string found;
  for (const auto& [kind, ids] : held)
    for (long id : ids)
      if (BpfObjectExists(kind, id)) found += kind + " " + std::to_string(id) + "; ";
  return found;
}

}  // namespace btap
