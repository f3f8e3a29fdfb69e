// module("M") probes whose module comes and goes while the session runs (see session.h and
// attach/module_watch.cpp): stap arms them when M loads after the session started and
// disarms them when it is unloaded, so a reload arms them again. Their programs are kprobe
// programs (a probe on a function of a module that is not loaded never gets an fentry
// copy, which would need the module's BTF at load), loaded with the object; their links
// come and go, made again by the same attach as at the start. A program whose CO-RE
// relocations need the module's types (a member of one of its structs) cannot load before
// the module's BTF is there: it is left out of the object's load, and loaded on its own
// (a second libbpf object of the same bytes, sharing the session's maps) each time the
// module loads, and closed when it goes.
#include <bpf/libbpf.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/attach/attach.h"
#include "runtime/attach/module_watch.h"
#include "runtime/core_relocations.h"
#include "runtime/object.h"
#include "runtime/session.h"

namespace btap::runtime {

void Session::DeferModulePrograms() {
  deferred_.clear();
  std::optional<KernelTypes> kernel;  // read only when a module is missing
  for (const meta::Probe& p : meta_.probes) {
    std::string module = ProbeModule(p);
    if (module.empty() || ModuleLoaded(module)) continue;
    bpf_program* program = bpf_object__find_program_by_name(bpf_, p.program.c_str());
    if (!program || !bpf_program__autoload(program)) continue;
    ProgramPlace place = PlaceOf(program);
    if (!kernel) kernel.emplace(KernelTypes::Running());
    if (UnsatisfiedCoreRelocations(object_, meta_, *kernel, [&](const CoreRelocation& r) {
          return place.Holds(r);
        }).empty())
      continue;
    bpf_program__set_autoload(program, false);
    deferred_.insert(p.program);
    if (verbose_)
      Diagnostic("`" + p.point + "` reads types of module `" + module +
                 "`, which is not loaded: its program loads when the module loads\n");
  }
}

Session::ProgramPlace Session::PlaceOf(bpf_program* program) const {
  ProgramPlace place{bpf_program__section_name(program)};
  std::string section;
  uint64_t offset = 0, size = 0;
  if (ObjectFunction(object_, bpf_program__name(program), &section, &offset, &size) &&
      section == place.section && size > 0) {
    place.begin = offset;
    place.end = offset + size;
  }
  return place;
}

bpf_object* Session::LoadModuleProgram(const meta::Probe& p, std::string* error) {
  bpf_object* object = OpenBpfObject(error);
  if (!object) return nullptr;
  // The maps are the session's (global data, the output ring buffer, the script's arrays).
  bpf_map* map;
  bpf_object__for_each_map(map, object) {
    bpf_map* live = bpf_object__find_map_by_name(bpf_, bpf_map__name(map));
    int fd = live ? bpf_map__fd(live) : -1;
    if (fd < 0 || bpf_map__reuse_fd(map, fd) != 0) {
      *error =
          std::string("cannot share the map `") + bpf_map__name(map) + "` with `" + p.point + "`";
      bpf_object__close(object);
      return nullptr;
    }
  }
  bpf_program* program;
  bpf_object__for_each_program(program, object) {
    bpf_program__set_autoload(program, p.program == bpf_program__name(program));
  }
  meta::Probe copy = p;
  PrepareKprobe(object, copy, false);
  std::string log;
  if (LoadBpfObject(object, &log) != 0) {
    *error = "the kernel refused the compiled probe `" + p.point + "`: " + LoadFailure(log);
    bpf_object__close(object);
    return nullptr;
  }
  return object;
}

bool Session::WatchModuleProbe(bpf_program* program, const meta::Probe& p,
                               std::vector<std::string>& missing, std::vector<std::string>& waiting,
                               bool* handled, std::string* error) {
  *handled = false;
  std::string module = ProbeModule(p);
  // An fentry program is bound to the function's BTF id of the module as loaded now: it
  // stays attached as any other probe (the kernel keeps the module while it is attached).
  if (module.empty() || bpf_program__type(program) == BPF_PROG_TYPE_TRACING) return true;
  // A program left out of the load (DeferModulePrograms) has nothing to attach until its
  // module loads.
  bool deferred = deferred_.count(p.program) > 0;
  auto unwatched = [&] {
    if (deferred) {
      *handled = true;
      missing.push_back(p.point + " (module `" + module + "` is not loaded)");
    }
    return true;
  };
  if (module_watch_failed_) return unwatched();
  if (!modules_) {
    auto watch = std::make_unique<ModuleWatch>();
    std::string why;
    if (!watch->Start(&why)) {
      // Without it, a module that is not loaded is only named in the warning of the points
      // that are not in this kernel (AttachKprobe).
      module_watch_failed_ = true;
      if (verbose_) Diagnostic("modules that load later are not watched: " + why + '\n');
      return unwatched();
    }
    modules_ = std::move(watch);
  }
  *handled = true;
  module_probes_.push_back({&p, program, module, {}, false});
  ModuleProbe& m = module_probes_.back();
  if (!ModuleLoaded(module)) {
    waiting.push_back(p.point + " (module `" + module + "`)");
    return true;
  }
  if (!ArmModuleProbe(m, missing, error)) return false;
  if (verbose_ && m.armed)
    Diagnostic("attached `" + p.point + "` (" + AttachedAs(program, p) + ")\n");
  return true;
}

bool Session::ArmModuleProbe(ModuleProbe& m, std::vector<std::string>& missing,
                             std::string* error) {
  if (deferred_.count(m.probe->program)) {
    m.object = LoadModuleProgram(*m.probe, error);
    if (!m.object) return false;
    m.program = bpf_object__find_program_by_name(m.object, m.probe->program.c_str());
  }
  size_t missing_before = missing.size();
  bool attached = AttachProbe(m.program, *m.probe, m.links, link_fds_, missing, error);
  bool none = missing.size() > missing_before && m.probe->target.find('\n') == std::string::npos;
  m.armed = attached && !none;
  if (!m.armed) Disarm(m);
  return attached;
}

void Session::Disarm(ModuleProbe& m) {
  DetachAll(m.links);
  m.armed = false;
  if (m.object) bpf_object__close(m.object);
  m.object = nullptr;
}

void Session::TakeModuleEvents() {
  modules_->Take([&](const std::string& module, bool loaded) {
    std::vector<std::string> missing;
    for (ModuleProbe& m : module_probes_) {
      if (m.module != module) continue;
      if (!loaded) {
        if (!m.armed) continue;
        Disarm(m);
        if (verbose_)
          Diagnostic("disarmed `" + m.probe->point + "`: module `" + module + "` was unloaded\n");
        continue;
      }
      // (A module that went again before its record was read has no functions to attach.)
      if (m.armed || !ModuleLoaded(module)) continue;
      std::string error;
      if (!ArmModuleProbe(m, missing, &error))
        Diagnostic("WARNING: module `" + module + "` loaded, but " + error + '\n');
      else if (verbose_ && m.armed)
        Diagnostic("armed `" + m.probe->point + "` (" + AttachedAs(m.program, *m.probe) +
                   "): module `" + module + "` loaded\n");
    }
    if (!missing.empty()) {
      std::string names = FirstNames(missing);
      Diagnostic("WARNING: module `" + module + "` loaded without " +
                 std::to_string(missing.size()) + " probe point" +
                 (missing.size() == 1 ? "" : "s") + " that the script was compiled with: " + names +
                 '\n');
    }
  });
  Flush();
}

void Session::DetachModuleProbes() {
  for (ModuleProbe& m : module_probes_) Disarm(m);
}

}  // namespace btap::runtime
