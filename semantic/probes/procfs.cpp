// procfs probes: procfs[("PATH")][.umask(N)].read[.maxsize(N)] and
// procfs[("PATH")][.umask(N)].write, files the runtime serves while the session runs
// (runtime/procfs.cpp). A read probe sets `$value` to the file's text; a write probe
// reads in `$value` what one write(2) wrote. The handlers run in user space. The file
// "__stdin" is standard input's: its write probes are input.char and input.line.
#include "common/object_meta.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

// stap's default umasks: the owner may read a read probe's file and write a write
// probe's; the others may neither.
constexpr int64_t kReadUmask = 0044;
constexpr int64_t kWriteUmask = 0022;

// Why `path` cannot name a file under the session's folder ("" when it can).
std::string PathProblem(const std::string& path) {
  if (path.empty()) return "a procfs path cannot be empty";
  if (path.front() == '/') return "a procfs path cannot start with `/`";
  if (path.back() == '/') return "a procfs path cannot end with `/`";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty()) return "a procfs path component cannot be empty";
    if (part == "." || part == "..") return "a procfs path cannot contain `.` or `..`";
    start = end + 1;
  }
  return "";
}

class Procfs : public ProbeFamily {
 public:
  Family id() const override { return Family::Procfs; }
  std::vector<std::string_view> Patterns() const override {
    return {"procfs.read",
            "procfs.umask(number).read",
            "procfs.read.maxsize(number)",
            "procfs.umask(number).read.maxsize(number)",
            "procfs(string).read",
            "procfs(string).umask(number).read",
            "procfs(string).read.maxsize(number)",
            "procfs(string).umask(number).read.maxsize(number)",
            "procfs.write",
            "procfs.umask(number).write",
            "procfs(string).write",
            "procfs(string).umask(number).write"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::Procfs;
    spec.point = PointSpelling(parts);
    const PointPart& root = parts[0];
    spec.target = root.arg == ArgKind::String ? root.string : "command";
    if (root.arg == ArgKind::String && !root.placeholder) {
      if (std::string why = PathProblem(root.string); !why.empty()) {
        ctx.diags.Report(Diag::ProbeParameter, root.range, {why});
        return;
      }
    }
    bool write = false;
    int64_t umask = -1;
    for (const PointPart& p : parts.subspan(1)) {
      if (p.name == "write") write = true;
      if (p.name == "umask" && p.arg == ArgKind::Number) {
        if (p.number < 0 || p.number > 0777) {
          ctx.diags.Report(Diag::ProbeParameter, p.range,
                           {"umask must be between 0 and 0777 (octal)"});
          return;
        }
        umask = p.number;
      }
      if (p.name == "maxsize" && p.arg == ArgKind::Number) {
        if (p.number <= 0) {
          ctx.diags.Report(Diag::ProbeParameter, p.range, {"maxsize must be greater than 0"});
          return;
        }
        if (p.number > kMaxSize) {
          ctx.diags.Report(Diag::ProbeParameter, p.range,
                           {"maxsize must be at most " + std::to_string(kMaxSize)});
          return;
        }
        spec.numbers[0] = p.number;
      }
    }
    if (!write && spec.target == meta::kInputFile) {
      ctx.diags.Report(Diag::ProbeParameter, root.range,
                       {"the procfs file \"__stdin\" is standard input, which input.char and "
                        "input.line read; it has no read probe"});
      return;
    }
    spec.numbers[1] = umask >= 0 ? umask : write ? kWriteUmask : kReadUmask;
    spec.numbers[2] = write;
    spec.has_target_vars = true;
    TargetArg value;
    value.name = "value";
    value.c_type = "string";
    spec.args.push_back(value);
    out.push_back(std::move(spec));
  }

  // A read probe's text is held in the runtime's memory while a reader has the file open.
  static constexpr int64_t kMaxSize = 64 << 20;
};

}  // namespace

const ProbeFamily& ProcfsFamily() {
  static const Procfs family;
  return family;
}

}  // namespace btap::sema
