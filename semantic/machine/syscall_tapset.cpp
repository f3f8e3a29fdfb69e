// The syscall tapset that btap writes for the running kernel (SyscallTable::Tapset
// and AnyTapset): one alias pair per call, with stap's names, variables and argstr
// where stap's tapset has them. The tables here are stap's facts, written by hand.
#include "semantic/machine/syscalls.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace btap::sema {
namespace {

bool IsStapKeyword(const std::string& s) {
  static const char* const kWords[] = {"probe", "global",  "function", "foreach",  "in",
                                       "limit", "delete",  "next",     "string",   "try",
                                       "catch", "private", "if",       "else",     "while",
                                       "for",   "return",  "break",    "continue", "long"};
  return std::any_of(std::begin(kWords), std::end(kWords), [&](const char* w) { return s == w; });
}

// Arguments that are NUL-terminated strings: `const char *` that is not a data buffer.
bool IsStringArg(const SyscallArg& a) {
  return a.c_type == "const char*" && a.name.find("buf") == std::string::npos;
}

// An argument or environment vector (execve's argv and envp): shown as its strings.
bool IsVectorArg(const SyscallArg& a) { return a.c_type == "const char*const*"; }

// Where the kernel's parameter name differs from the man page's (which scripts use, as
// stap's tapset does), for the calls scripts trace most. Names, not numbers: they do not
// change between kernels.
std::string ManPageName(const std::string& call, const std::string& param) {
  struct Rename {
    const char *call, *kernel, *man;
  };
  static const Rename kRenames[] = {
      {"accept", "fd", "sockfd"},
      {"accept", "upeer_sockaddr", "addr"},
      {"accept", "upeer_addrlen", "addrlen"},
      {"accept4", "fd", "sockfd"},
      {"accept4", "upeer_sockaddr", "addr"},
      {"accept4", "upeer_addrlen", "addrlen"},
      {"access", "filename", "pathname"},
      {"faccessat", "filename", "pathname"},
      {"chdir", "filename", "path"},
      {"connect", "fd", "sockfd"},
      {"connect", "uservaddr", "serv_addr"},
      {"exit_group", "error_code", "status"},
      {"exit", "error_code", "status"},
      {"ioctl", "cmd", "request"},
      {"ioctl", "arg", "argp"},
      {"mprotect", "start", "addr"},
      {"munmap", "len", "length"},
      {"nanosleep", "rqtp", "req"},
      {"nanosleep", "rmtp", "rem"},
      {"poll", "timeout_msecs", "timeout"},
      {"readv", "vec", "vector"},
      {"readv", "vlen", "count"},
      {"writev", "vec", "vector"},
      {"writev", "vlen", "count"},
      {"preadv", "vec", "vector"},
      {"preadv", "vlen", "count"},
      {"pwritev", "vec", "vector"},
      {"pwritev", "vlen", "count"},
      {"preadv2", "vec", "vector"},
      {"preadv2", "vlen", "count"},
      {"pwritev2", "vec", "vector"},
      {"pwritev2", "vlen", "count"},
      {"recvfrom", "fd", "s"},
      {"recvfrom", "ubuf", "buf"},
      {"recvfrom", "size", "len"},
      {"recvfrom", "addr_len", "addrlen"},
      {"sendto", "fd", "s"},
      {"sendto", "buff", "buf"},
      {"sendto", "addr", "to"},
      {"sendto", "addr_len", "tolen"},
      {"rename", "oldname", "oldpath"},
      {"rename", "newname", "newpath"},
      {"select", "inp", "readfds"},
      {"select", "outp", "writefds"},
      {"select", "exp", "exceptfds"},
      {"select", "tvp", "timeout"},
      {"wait4", "upid", "pid"},
      {"wait4", "stat_addr", "status"},
      {"wait4", "ru", "rusage"},
      {"waitid", "upid", "pid"},
      {"waitid", "ru", "rusage"},
      {"clock_nanosleep", "which_clock", "clk_id"},
      {"clock_nanosleep", "rqtp", "req"},
      {"clock_nanosleep", "rmtp", "rem"},
      {"futex", "uaddr", "futex"},
      {"bind", "fd", "sockfd"},
      {"bind", "umyaddr", "my_addr"},
      {"sendmsg", "fd", "s"},
      {"recvmsg", "fd", "s"},
      {"sendmmsg", "fd", "s"},
      {"recvmmsg", "fd", "s"},
      {"getdents", "dirent", "dirp"},
      {"getdents64", "dirent", "dirp"},
      {"ppoll", "ufds", "fds"},
  };
  for (const Rename& r : kRenames)
    if (call == r.call && param == r.kernel) return r.man;
  return param;
}

// The script variable an argument (by its man-page name) becomes: stap's names (`name`
// is the call's name, so an argument called `name` is `name_str`; pointers are
// `NAME_uaddr`).
std::string VarName(const SyscallArg& a, const std::string& base) {
  if (base == "name") return IsStringArg(a) ? "name_str" : "name_uaddr";
  if (base == "argstr" || base == "retval" || base == "retstr" || IsStapKeyword(base))
    return base + "_arg";
  // The argv tapset's globals (stap's execve names its local `__argv` too).
  if (base == "argv" || base == "argc") return "__" + base;
  return base;
}

bool IsDirFd(const SyscallArg& a) {
  return !a.is_pointer && a.is_signed &&
         (a.name == "dfd" || a.name == "dirfd" || a.name == "olddfd" || a.name == "newdfd");
}

// Calls whose argstr stap decodes further: more locals (stap's names) after the
// generated ones, and stap's argstr in place of the generated one.
struct StapArgstr {
  const char *call, *body;
};
constexpr StapArgstr kStapArgstrs[] = {
    // stap's syscall.mmap2 (kStapGroups) names its variables length and pgoffset.
    {"mmap",
     "  start = $addr\n  length = len\n  prot_str = _mprotect_prot_str(prot)\n"
     "  flags_str = _mmap_flags(flags)\n  fd = ($fd << 32) >> 32\n  offset = $off\n"
     "  pgoffset = offset\n"
     "  argstr = sprintf(\"%p, %u, %s, %s, %d, %d\", start, len, prot_str, flags_str, fd,"
     " offset)\n"},
    {"mprotect",
     "  prot_str = _mprotect_prot_str(prot)\n"
     "  argstr = sprintf(\"%p, %u, %s\", addr, len, prot_str)\n"},
    {"socket",
     "  family_str = _sock_family_str(family)\n  type_str = _sock_type_str(type)\n"
     "  protocol_str = _sock_protocol_str(family, protocol)\n"
     "  argstr = sprintf(\"%s, %s, %s\", family_str, type_str, protocol_str)\n"},
    {"clone",
     "  stack_start = $newsp\n  parent_tid_uaddr = $parent_tidptr\n"
     "  child_tid_uaddr = $child_tidptr\n"
     "  argstr = sprintf(\"%s, %p, %p, %p\", __fork_flags(clone_flags), stack_start,"
     " parent_tid_uaddr, child_tid_uaddr)\n"},
    {"kill",
     "  sig_name = _syscall_signal_str(sig)\n  argstr = sprintf(\"%d, %s\", pid, sig_name)\n"},
    {"tkill",
     "  sig_str = _syscall_signal_str(sig)\n  argstr = sprintf(\"%d, %s\", pid, sig_str)\n"},
    {"tgkill",
     "  sig_str = _syscall_signal_str(sig)\n"
     "  argstr = sprintf(\"%d, %d, %s\", tgid, pid, sig_str)\n"},
    // The data written, quoted, up to syscall_string_trunc bytes; descriptors as ints.
    {"write",
     "  fd = ($fd << 32) >> 32\n"
     "  buf_str = user_buffer_quoted(buf_uaddr, count, syscall_string_trunc)\n"
     "  argstr = sprintf(\"%d, %s, %u\", fd, buf_str, count)\n"},
    {"read",
     "  fd = ($fd << 32) >> 32\n  argstr = sprintf(\"%d, %p, %u\", fd, buf_uaddr, count)\n"},
    {"access",
     "  mode_str = _access_mode_str(mode)\n  argstr = sprintf(\"%s, %s\", pathname, mode_str)\n"},
    {"faccessat",
     "  dirfd = $dfd\n  dirfd_str = _dfd_str(dirfd)\n  mode_str = _access_mode_str(mode)\n"
     "  argstr = sprintf(\"%s, %s, %s\", dirfd_str, pathname, mode_str)\n"},
    {"wait4",
     "  options_str = _wait4_opt_str(options)\n"
     "  argstr = sprintf(\"%d, %p, %s, %p\", pid, status_uaddr, options_str, rusage_uaddr)\n"},
    {"lseek",
     "  fildes = ($fd << 32) >> 32\n  whence_str = _seek_whence_str(whence)\n"
     "  argstr = sprintf(\"%d, %d, %s\", fildes, offset, whence_str)\n"},
    {"fcntl",
     "  fd = ($fd << 32) >> 32\n  cmd = ($cmd << 32) >> 32\n  cmd_str = _fcntl_cmd_str(cmd)\n"
     "  argstr = sprintf(\"%d, %s, %p\", fd, cmd_str, arg)\n"},
    {"ioctl",
     "  fd = ($fd << 32) >> 32\n  request = ($cmd << 32) >> 32\n"
     "  argstr = sprintf(\"%d, %d, %p\", fd, request, argp)\n"},
    {"rt_sigprocmask",
     "  how_str = _sigprocmask_how_str(how)\n  set_uaddr = $nset\n"
     "  set_str = _stp_sigset_u(set_uaddr)\n  oldset_uaddr = $oset\n"
     "  argstr = sprintf(\"%s, %s, %p, %d\", how_str, set_str, oldset_uaddr, sigsetsize)\n"},
    {"rt_sigaction",
     "  sig_str = _syscall_signal_str(sig)\n  act_str = _struct_sigaction_u(act_uaddr)\n"
     "  argstr = sprintf(\"%s, {%s}, %p, %d\", sig_str, act_str, oact_uaddr, sigsetsize)\n"},
    {"munmap", "  start = $addr\n  argstr = sprintf(\"%p, %u\", start, length)\n"},
    {"brk", "  argstr = sprintf(\"%p\", brk)\n"},
    // The option by name, then the arguments it uses (tapsets/syscalls_prctl.stp).
    {"prctl", "  argstr = _prctl_argstr(option, arg2, arg3, arg4, arg5)\n"},
    // The vector's address and length, not its contents.
    {"readv",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n"
     "  argstr = sprintf(\"%d, %p, %d\", fd, vector_uaddr, count)\n"},
    {"writev",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n"
     "  argstr = sprintf(\"%d, %p, %d\", fd, vector_uaddr, count)\n"},
    // The offset is pos_l alone on a 64-bit kernel (pos_h is its upper half elsewhere).
    {"preadv",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n  offset = $pos_l\n"
     "  argstr = sprintf(\"%d, %p, %d, 0x%x\", fd, vector_uaddr, count, offset)\n"},
    {"pwritev",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n  offset = $pos_l\n"
     "  argstr = sprintf(\"%d, %p, %d, 0x%x\", fd, vector_uaddr, count, offset)\n"},
    // The flags by name, as stap's _preadv2_flags_str (tapsets/syscalls_io.stp).
    {"preadv2",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n  offset = $pos_l\n"
     "  flags_str = _preadv2_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %d, 0x%x, %s\", fd, vector_uaddr, count, offset, flags_str)\n"},
    {"pwritev2",
     "  fd = ($fd << 32) >> 32\n  count = ($vlen << 32) >> 32\n  offset = $pos_l\n"
     "  flags_str = _preadv2_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %d, 0x%x, %s\", fd, vector_uaddr, count, offset, flags_str)\n"},
    {"madvise",
     "  length = $len_in\n  advice = behavior\n  advice_str = _madvice_advice_str(advice)\n"
     "  argstr = sprintf(\"%p, %u, %s\", start, length, advice_str)\n"},
    {"msync",
     "  length = len\n  flags_str = _msync_flag_str(flags)\n"
     "  argstr = sprintf(\"%p, %u, %s\", start, length, flags_str)\n"},
    {"flock",
     "  fd = ($fd << 32) >> 32\n  operation = $cmd\n"
     "  argstr = sprintf(\"%d, %s\", fd, _flock_cmd_str(operation))\n"},
    // stap reads the (output) buffer as a string.
    {"getrandom",
     "  buf = user_string_quoted($ubuf)\n  count = len\n  flags_str = _getrandom_flags_str(flags)\n"
     "  argstr = sprintf(\"%s, %u, %s\", buf, count, flags_str)\n"},
    // The first calls of stap's groups (kStapGroups): the variables the second sets.
    {"epoll_create", "  flags = 0\n  argstr = sprint(size)\n"},
    {"eventfd", "  flags = 0\n  flags_str = \"0x0\"\n  argstr = sprint(count)\n"},
    {"inotify_init", "  flags = 0\n  argstr = \"\"\n"},
    {"pipe",
     "  flags = 0\n  flag_str = \"\"\n  pipe0 = _fildes_index_u(fildes_uaddr, 0)\n"
     "  pipe1 = _fildes_index_u(fildes_uaddr, 1)\n"
     "  argstr = fildes_uaddr ? sprintf(\"[%d, %d]\", pipe0, pipe1) : \"NULL\"\n"},
    {"signalfd",
     "  flags = 0\n  argstr = sprintf(\"%d, %p, %d\", ufd, user_mask_uaddr, sizemask)\n"},
    // The second calls of stap's groups, as stap's alias of the first shows them.
    {"epoll_create1",
     "  size = 0\n  name = flags == 0 ? \"epoll_create\" : \"epoll_create1\"\n"
     "  argstr = flags == 0 ? \"0\" : _epoll_create1_flag_str(flags)\n"},
    {"eventfd2",
     "  flags_str = _eventfd2_flag_str(flags)\n"
     "  argstr = sprintf(\"%u, %s\", count, flags_str)\n"},
    {"inotify_init1", "  argstr = _inotify_init1_flag_str(flags)\n"},
    {"pipe2",
     "  flag_str = _sys_pipe2_flag_str(flags)\n  pipe0 = _fildes_index_u(fildes_uaddr, 0)\n"
     "  pipe1 = _fildes_index_u(fildes_uaddr, 1)\n"
     "  argstr = fildes_uaddr ? sprintf(\"[%d, %d], %s\", pipe0, pipe1, flag_str) : \"NULL\"\n"},
    {"signalfd4",
     "  name = flags == 0 ? \"signalfd\" : \"signalfd4\"\n"
     "  argstr = flags == 0 ? sprintf(\"%d, %p, %d\", ufd, user_mask_uaddr, sizemask)\n"
     "           : sprintf(\"%d, %p, %d, %s\", ufd, user_mask_uaddr, sizemask,"
     " _signalfd4_flags_str(flags))\n"},
    {"getdents64",
     "  name = \"getdents\"\n  fd = ($fd << 32) >> 32\n"
     "  argstr = sprintf(\"%d, %p, %d\", fd, dirp_uaddr, count)\n"},
    {"getdents",
     "  fd = ($fd << 32) >> 32\n  argstr = sprintf(\"%d, %p, %d\", fd, dirp_uaddr, count)\n"},
    {"dup2",
     "  oldfd = ($oldfd << 32) >> 32\n  newfd = ($newfd << 32) >> 32\n  flags = 0\n"
     "  flags_str = \"0x0\"\n  argstr = sprintf(\"%d, %d\", oldfd, newfd)\n"},
    {"dup3",
     "  oldfd = ($oldfd << 32) >> 32\n  newfd = ($newfd << 32) >> 32\n"
     "  flags_str = _dup3_flag_str(flags)\n"
     "  argstr = sprintf(\"%d, %d, %s\", oldfd, newfd, flags_str)\n"},
    {"accept4",
     "  flags_str = _sock_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %p, %s\", sockfd, addr_uaddr, addrlen_uaddr, flags_str)\n"},
    {"nanosleep",
     "  req_str = _struct_timespec_u(req_uaddr, 1)\n"
     "  argstr = sprintf(\"%s, %p\", req_str, rem_uaddr)\n"},
    {"clock_nanosleep",
     "  clk_id_str = _get_wc_str(clk_id)\n  flags_str = _stp_clock_nanosleep_flags_str(flags)\n"
     "  req_str = _struct_timespec_u(req_uaddr, 1)\n"
     "  argstr = sprintf(\"%s, %s, %s, %p\", clk_id_str, flags_str, req_str, rem_uaddr)\n"},
    {"ppoll",
     "  tsp = $tsp\n  tsp_str = _struct_timespec_u(tsp, 1)\n  sigmask = $sigmask\n"
     "  argstr = sprintf(\"%p, %u, %s, %p, %d\", fds_uaddr, nfds, tsp_str, sigmask, sigsetsize)\n"},
    {"select",
     "  timeout_str = _struct_timeval_u(timeout_uaddr, 1)\n"
     "  argstr = sprintf(\"%d, %p, %p, %p, %s\", n, readfds_uaddr, writefds_uaddr,"
     " exceptfds_uaddr, timeout_str)\n"},
    {"pselect6",
     "  nfds = $n\n  readfds = $inp\n  writefds = $outp\n  exceptfds = $exp\n  timeout = $tsp\n"
     "  sigmask = $sig\n  timeout_str = _struct_timespec_u(timeout, 1)\n"
     "  argstr = sprintf(\"%d, %p, %p, %p, %s, %p\", nfds, readfds, writefds, exceptfds,"
     " timeout_str, sigmask)\n"},
    // stap's @__futex_argstr: the arguments each operation uses (the private ones, 128
    // and up, show only the first three).
    {"futex",
     "  val = ($val << 32) >> 32\n  val3 = ($val3 << 32) >> 32\n"
     "  argstr = sprintf(\"%p, %s, %d\", futex_uaddr, _futex_op_str(op), val)\n"
     "  if (op == 0 || op == 9 || op == 11)\n"
     "    argstr .= \", \" . _struct_timespec_u(utime_uaddr, 1)\n"
     "  if (op == 9 || op == 10)\n"
     "    argstr .= sprintf(\", %#x\", val3)\n"
     "  else if (op == 3)\n"
     "    argstr .= sprintf(\", %d, %p\", utime_uaddr, uaddr2_uaddr)\n"
     "  else if (op == 4 || op == 12)\n"
     "    argstr .= sprintf(\", %u, %p, %d\", utime_uaddr, uaddr2_uaddr, val3)\n"
     "  else if (op == 5)\n"
     "    argstr .= sprintf(\", %u, %p, %s\", utime_uaddr, uaddr2_uaddr,"
     " _futex_wake_op_str(val3))\n"
     "  else if (op == 11)\n"
     "    argstr .= sprintf(\", %p\", uaddr2_uaddr)\n"},
    {"waitid",
     "  which_str = _waitid_which_str(which)\n  options_str = _wait4_opt_str(options)\n"
     "  argstr = sprintf(\"%s, %d, %p, %s, %p\", which_str, pid, infop_uaddr, options_str,"
     " rusage_uaddr)\n"},
    {"umount",
     "  target = user_string_quoted($name)\n  flags_str = _umountflags_str(flags)\n"
     "  argstr = sprintf(\"%s, %s\", target, flags_str)\n"},
    {"mount",
     "  source = user_string_quoted($dev_name)\n  target = user_string_quoted($dir_name)\n"
     "  filesystemtype = user_string_quoted($type)\n  mountflags = $flags\n"
     "  mountflags_str = _mountflags_str(mountflags)\n"
     "  data = user_string_n_quoted(data_uaddr, syscall_string_trunc)\n"
     "  argstr = sprintf(\"%s, %s, %s, %s, %s\", source, target, filesystemtype,"
     " mountflags_str, data)\n"},
    // Socket options by level and name (stap names the option from the SO_* table at
    // every level), message flags, addresses read from user memory.
    {"setsockopt",
     "  optlen = $optlen & 0xffffffff\n  level_str = _sockopt_level_str(level)\n"
     "  optname_str = _sockopt_optname_str(optname)\n"
     "  argstr = sprintf(\"%d, %s, %s, %p, %u\", fd, level_str, optname_str, optval_uaddr,"
     " optlen)\n"},
    {"getsockopt",
     "  level_str = _sockopt_level_str(level)\n  optname_str = _sockopt_optname_str(optname)\n"
     "  argstr = sprintf(\"%d, %s, %s, %p, %p\", fd, level_str, optname_str, optval_uaddr,"
     " optlen_uaddr)\n"},
    {"sendto",
     "  tolen = $addr_len & 0xffffffff\n  flags_str = _msg_flags_str(flags)\n"
     "  buf = user_buffer_quoted(buf_uaddr, len, syscall_string_trunc)\n"
     "  to_str = _struct_sockaddr_u(to_uaddr, tolen)\n"
     "  argstr = sprintf(\"%d, %s, %u, %s, %s, %u\", s, buf, len, flags_str, to_str, tolen)\n"},
    {"recvfrom",
     "  flags_str = _msg_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %u, %s, %p, %p\", s, buf_uaddr, len, flags_str, addr_uaddr,"
     " addrlen_uaddr)\n"},
    {"sendmsg",
     "  flags_str = _msg_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %s\", s, msg_uaddr, flags_str)\n"},
    {"recvmsg",
     "  flags_str = _msg_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %s\", s, msg_uaddr, flags_str)\n"},
    {"sendmmsg",
     "  flags_str = _msg_flags_str(flags)\n"
     "  argstr = sprintf(\"%d, %p, %d, %s\", s, mmsg_uaddr, vlen, flags_str)\n"},
    {"recvmmsg",
     "  flags_str = _msg_flags_str(flags)\n  timeout_str = _struct_timespec_u(timeout_uaddr, 1)\n"
     "  argstr = sprintf(\"%d, %p, %u, %s, %s\", s, mmsg_uaddr, vlen, flags_str,"
     " timeout_str)\n"},
    {"bind",
     "  argstr = sprintf(\"%d, %s, %d\", sockfd, _struct_sockaddr_u(my_addr_uaddr, addrlen),"
     " addrlen)\n"},
    {"connect",
     "  addrlen = $addrlen & 0xffffffff\n"
     "  argstr = sprintf(\"%d, %s, %u\", sockfd, _struct_sockaddr_u(serv_addr_uaddr, addrlen),"
     " addrlen)\n"},
    {"epoll_ctl",
     "  op_str = _opoll_op_str(op)\n  event_uaddr = $event\n"
     "  argstr = sprintf(\"%d, %s, %d, %p\", epfd, op_str, fd, event_uaddr)\n"},
    {"prlimit64",
     "  resource = ($resource << 32) >> 32\n  resource_str = _rlimit_resource_str(resource)\n"
     "  new_rlim_str = _struct_rlimit_u(new_rlim_uaddr)\n"
     "  argstr = sprintf(\"%d, %s, %s, %p\", pid, resource_str, new_rlim_str, old_rlim_uaddr)\n"},
    {"getrlimit", "  argstr = sprintf(\"%s, %p\", _rlimit_resource_str(resource), rlim_uaddr)\n"},
    {"setrlimit",
     "  resource_str = _rlimit_resource_str(resource)\n  rlim_str = _struct_rlimit_u(rlim_uaddr)\n"
     "  argstr = sprintf(\"%s, %s\", resource_str, rlim_str)\n"},
    {"sched_setscheduler",
     "  policy_str = _sched_policy_str(policy)\n  p_uaddr = $param\n"
     "  argstr = sprintf(\"%d, %s, %p\", pid, policy_str, p_uaddr)\n"},
};

// What stap's return probes add for a few calls (wait4's status), after retval and retstr.
constexpr StapArgstr kStapReturns[] = {
    // The address, in hexadecimal (stap's syscall.mmap2).
    {"mmap", "  retstr = return_str(2, retval)\n"},
    {"wait4",
     "  status_str = retval <= 0 ? \"N/A\" : @entry(pointer_arg(2)) == 0 ? \"NULL\"\n"
     "               : _wait_status_str(user_int(@entry(pointer_arg(2))))\n"},
    // The descriptors the call stored.
    {"pipe",
     "  fildes_uaddr = pointer_arg(1)\n  pipe0 = _fildes_index_u(fildes_uaddr, 0)\n"
     "  pipe1 = _fildes_index_u(fildes_uaddr, 1)\n"},
    {"pipe2",
     "  fildes_uaddr = pointer_arg(1)\n  pipe0 = _fildes_index_u(fildes_uaddr, 0)\n"
     "  pipe1 = _fildes_index_u(fildes_uaddr, 1)\n"},
    // stap names the call by its flags on return too (the registers keep the arguments).
    {"epoll_create1",
     "  flags = int_arg(1)\n  name = flags == 0 ? \"epoll_create\" : \"epoll_create1\"\n"},
    {"signalfd4", "  flags = int_arg(4)\n  name = flags == 0 ? \"signalfd\" : \"signalfd4\"\n"},
    {"getdents64", "  name = \"getdents\"\n"},
};

// stap's aliases that stand on two calls: its `syscall.epoll_create` fires for
// epoll_create1 too, `syscall.pipe` for pipe2, ... (its sysc_*.stp; dup2/dup3 and
// accept/accept4 are apart there), and `syscall.mmap2` for x86-64's mmap (stap has no
// syscall.mmap there). The second call's alias pair is written twice: under its own
// name, which wildcards leave out (so `syscall.*` fires once per call), and under stap's;
// its body (kStapArgstrs) sets the first call's variables too, and `name` as stap's does
// (the call's own, or by the flags). `name`: the one stap's alias gives every call, where
// it is neither the call's nor decided by the body.
struct StapGroup {
  const char *kernel, *stap, *name;
};
constexpr StapGroup kStapGroups[] = {
    {"epoll_create1", "epoll_create", nullptr},
    {"eventfd2", "eventfd", nullptr},
    {"inotify_init1", "inotify_init", nullptr},
    {"pipe2", "pipe", nullptr},
    {"signalfd4", "signalfd", nullptr},
    {"getdents64", "getdents", nullptr},
    {"mmap", "mmap2", "mmap2"},
};

// One alias pair: the locals, then argstr as stap formats it (strings quoted, pointers
// as %p, directory fds as AT_FDCWD, open flags by name, modes in octal).
// `alias`: the probe's name (the call's, or stap's for a call it groups with another);
// `twins`: whether to write its nd_syscall twins; `name`: the `name` it gives.
void WriteAlias(const Syscall& s, const std::string& alias, bool twins, const std::string& name,
                std::string& out) {
  std::string nr = std::to_string(s.nr);
  out += "probe syscall." + alias + " = __syscall(" + nr + ")\n{\n  name = \"" + name + "\"\n";
  auto decoded = std::find_if(std::begin(kStapArgstrs), std::end(kStapArgstrs),
                              [&](const StapArgstr& d) { return s.name == d.call; });
  const char* body = decoded != std::end(kStapArgstrs) ? decoded->body : "";
  // A pointer's variable of its own name, unless stap's body gives that name a string
  // (mount's `data`, sendto's `buf`).
  auto pointer_var = [&](const std::string& var, const std::string& base, const SyscallArg& a) {
    if (var != base + "_uaddr" &&
        std::string_view(body).find("  " + var + " = ") == std::string_view::npos)
      out += "  " + var + " = $" + a.name + "\n";
  };
  std::string format, values;
  bool open_like = s.name == "open" || s.name == "openat";
  std::string mode_format, mode_value;
  for (const SyscallArg& a : s.args) {
    std::string base = ManPageName(s.name, a.name);
    std::string var = VarName(a, base);
    std::string f, v;
    if (IsStringArg(a)) {
      out += "  " + base + "_uaddr = $" + a.name + "\n";
      out += "  " + var + " = user_string_quoted($" + a.name + ")\n";
      f = "%s", v = var;
    } else if (IsVectorArg(a)) {
      // stap's names: `args` for the arguments, `env_str` for the environment.
      std::string list = base == "envp" ? "env_str" : "args";
      out += "  " + base + "_uaddr = $" + a.name + "\n";
      pointer_var(var, base, a);
      out += "  " + list + " = __get_argv($" + a.name + ", 0)\n";
      f = "%s", v = list;
    } else if (a.is_pointer) {
      out += "  " + base + "_uaddr = $" + a.name + "\n";
      pointer_var(var, base, a);
      f = "%p", v = base + "_uaddr";
    } else {
      out += "  " + var + " = $" + a.name + "\n";
      if (IsDirFd(a)) {
        f = "%s", v = "_dfd_str(" + var + ")";
      } else if (open_like && a.name == "flags") {
        f = "%s", v = "_sys_open_flag_str(" + var + ")";
      } else if (a.c_type == "umode_t") {
        f = "%#o", v = var;
      } else {
        f = a.is_signed ? "%d" : "%u", v = var;
      }
    }
    if (open_like && a.name == "mode") {
      mode_format = f, mode_value = v;
      continue;
    }
    format += (format.empty() ? "" : ", ") + f;
    values += ", " + v;
  }
  if (*body) {
    out += body;
  } else if (!mode_format.empty()) {
    // open(at) shows the mode only when it is used: with O_CREAT.
    out += "  argstr = (flags & 64) ? sprintf(\"" + format + ", " + mode_format + "\"" + values +
           ", " + mode_value + ") : sprintf(\"" + format + "\"" + values + ")\n";
  } else if (format.empty()) {
    out += "  argstr = \"\"\n";
  } else {
    out += "  argstr = sprintf(\"" + format + "\"" + values + ")\n";
  }
  out += "}\n";
  out += "probe syscall." + alias + ".return = __syscall(" + nr + ").return\n{\n  name = \"" +
         name + "\"\n  retval = $return\n  retstr = return_str(1, retval)\n";
  for (const StapArgstr& r : kStapReturns)
    if (s.name == r.call) out += r.body;
  out += "}\n";
  if (!twins) return;
  // nd_syscall.* (stap's DWARF-less twins) are the same probes here.
  out += "probe nd_syscall." + alias + " = syscall." + alias + " {}\n";
  out += "probe nd_syscall." + alias + ".return = syscall." + alias + ".return {}\n";
}

// stap's names for calls the kernel names otherwise (newstat is stap's stat): a second
// alias pair on the same number, with stap's `name`, variables and argstr. The body
// reads the kernel's parameters ($NAME).
struct StapAlias {
  const char *kernel, *stap, *body;
};
constexpr StapAlias kStapAliases[] = {
    {"newstat", "stat",
     "  filename_uaddr = $filename\n  filename = user_string_quoted($filename)\n"
     "  buf_uaddr = $statbuf\n  argstr = sprintf(\"%s, %p\", filename, buf_uaddr)\n"},
    {"newlstat", "lstat",
     "  path = user_string_quoted($filename)\n  buf_uaddr = $statbuf\n"
     "  argstr = sprintf(\"%s, %p\", path, buf_uaddr)\n"},
    {"newfstat", "fstat",
     "  filedes = $fd\n  buf_uaddr = $statbuf\n"
     "  argstr = sprintf(\"%d, %p\", filedes, buf_uaddr)\n"},
    {"newfstatat", "fstatat",
     "  dirfd = $dfd\n  dirfd_str = _dfd_str(dirfd)\n  path = user_string_quoted($filename)\n"
     "  buf_uaddr = $statbuf\n  flags = $flag\n  flags_str = _at_flag_str(flags)\n"
     "  argstr = sprintf(\"%s, %s, %p, %s\", dirfd_str, path, buf_uaddr, flags_str)\n"},
    {"pread64", "pread",
     "  fd = $fd\n  buf_uaddr = $buf\n  count = $count\n  offset = $pos\n"
     "  argstr = sprintf(\"%d, %p, %u, %d\", fd, buf_uaddr, count, offset)\n"},
    {"pwrite64", "pwrite",
     "  fd = $fd\n  buf_uaddr = $buf\n  count = $count\n  offset = $pos\n"
     "  buf_str = user_buffer_quoted(buf_uaddr, count, syscall_string_trunc)\n"
     "  argstr = sprintf(\"%d, %s, %u, %d\", fd, buf_str, count, offset)\n"},
    {"newuname", "uname", "  name_uaddr = $name\n  argstr = sprintf(\"%p\", name_uaddr)\n"},
    {"sendfile64", "sendfile",
     "  out_fd = $out_fd\n  in_fd = $in_fd\n  offset_uaddr = $offset\n  count = $count\n"
     "  argstr = sprintf(\"%d, %d, %p, %u\", out_fd, in_fd, offset_uaddr, count)\n"},
};

void WriteStapAlias(const Syscall& s, const StapAlias& a, std::string& out) {
  std::string nr = std::to_string(s.nr), name = a.stap;
  out += "probe syscall." + name + " = __syscall(" + nr + ")\n{\n  name = \"" + name + "\"\n" +
         a.body + "}\n";
  out += "probe syscall." + name + ".return = __syscall(" + nr + ").return\n{\n  name = \"" + name +
         "\"\n  retval = $return\n  retstr = return_str(1, retval)\n}\n";
  out += "probe nd_syscall." + name + " = syscall." + name + " {}\n";
  out += "probe nd_syscall." + name + ".return = syscall." + name + ".return {}\n";
}

// stap's names of calls that x86-64 tasks do not make (32-bit-only calls such as nice,
// waitpid, signal, send, recv) or that this kernel was built without (init_module without
// module support): stap's aliases still resolve, to the raw syscall tracepoint gated by
// a number no 64-bit call has, so a script naming one runs and the probe never fires.
// btap's match nothing (`never`) the same way. stap's 16-bit-uid and compat_* calls are
// not here (compat calls of the same meaning as an x86-64 call fire that call's alias,
// syscalls_i386.cpp; see docs/differences.md).
constexpr const char* kStapOnlyNames[] = {
    "bdflush",     "delete_module",  "fadvise64_64", "finit_module",    "fstatfs64",
    "ftruncate64", "gethostname",    "init_module",  "kexec_file_load", "kexec_load",
    "llseek",      "lookup_dcookie", "nice",         "readdir",         "recv",
    "send",        "sgetmask",       "sigaction",    "signal",          "sigpending",
    "sigprocmask", "sigsuspend",     "ssetmask",     "statfs64",        "stime",
    "sysctl",      "uselib",         "waitpid",
};

void WriteNeverAlias(const std::string& name, std::string& out) {
  out += "probe syscall." + name + " = never\n{\n  name = \"" + name + "\"\n  argstr = \"\"\n}\n";
  out += "probe syscall." + name + ".return = never\n{\n  name = \"" + name +
         "\"\n  retval = 0\n  retstr = \"\"\n}\n";
  out += "probe nd_syscall." + name + " = syscall." + name + " {}\n";
  out += "probe nd_syscall." + name + ".return = syscall." + name + ".return {}\n";
}

// The statements that return the name of `nr` among calls [lo, hi) sorted by number.
void WriteNameSearch(const std::vector<const Syscall*>& calls, size_t lo, size_t hi,
                     const std::string& indent, std::string& out) {
  if (hi - lo <= 8) {
    for (size_t i = lo; i < hi; ++i)
      out += indent + "if (nr == " + std::to_string(calls[i]->nr) + ") return \"" + calls[i]->name +
             "\"\n";
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  out += indent + "if (nr < " + std::to_string(calls[mid]->nr) + ") {\n";
  WriteNameSearch(calls, lo, mid, indent + "  ", out);
  out += indent + "} else {\n";
  WriteNameSearch(calls, mid, hi, indent + "  ", out);
  out += indent + "}\n";
}

}  // namespace

std::string SyscallTable::Tapset() const {
  std::string out =
      "// The syscall tapset, generated by btap for the running kernel from its syscall\n"
      "// metadata: one alias pair per system call, all dispatched by one program.\n\n";
  for (const Syscall& s : all_) WriteAlias(s, s.name, true, s.name, out);
  for (const StapGroup& g : kStapGroups)
    if (const Syscall* s = ByName(g.kernel))
      WriteAlias(*s, g.stap, !ByName(g.stap), g.name ? g.name : s->name, out);
  for (const StapAlias& a : kStapAliases) {
    const Syscall* s = ByName(a.kernel);
    if (s && !ByName(a.stap)) WriteStapAlias(*s, a, out);
  }
  for (const char* name : kStapOnlyNames)
    if (!ByName(name)) WriteNeverAlias(name, out);
  return out;
}

std::vector<std::string> SyscallTable::RenamedByStap() const {
  std::vector<std::string> out;
  for (const StapAlias& a : kStapAliases)
    if (ByName(a.kernel) && !ByName(a.stap)) out.push_back(a.kernel);
  for (const StapGroup& g : kStapGroups)
    if (ByName(g.kernel)) out.push_back(g.kernel);
  return out;
}

std::string SyscallTable::AnyTapset() const {
  std::string out =
      "// syscall_any and syscall_name(), generated by btap for the running kernel.\n\n";
  out +=
      "/**\n * sfunction syscall_name - The name of a system call\n *\n"
      " * @nr: the system call's number on this kernel\n *\n"
      " * Description: The name, such as \"openat\", or \"\" for a number the kernel does\n"
      " * not have.\n */\n"
      "function syscall_name:string (nr:long) {\n";
  // A binary search over the numbers in the code itself: no table to fill at start (a
  // begin probe would leave it empty before it runs, or after an earlier exit()).
  std::vector<const Syscall*> by_nr;
  for (const Syscall& s : all_) by_nr.push_back(&s);
  std::sort(by_nr.begin(), by_nr.end(),
            [](const Syscall* a, const Syscall* b) { return a->nr < b->nr; });
  WriteNameSearch(by_nr, 0, by_nr.size(), "  ", out);
  out += "  return \"\"\n}\n\n";
  out +=
      "probe syscall_any = __syscall(-1)\n{\n  syscall_nr = $__nr\n"
      "  name = syscall_name(syscall_nr)\n}\n"
      "probe syscall_any.return = __syscall(-1).return\n{\n  syscall_nr = $__nr\n"
      "  name = syscall_name(syscall_nr)\n  retval = $return\n"
      "  retstr = return_str(1, retval)\n}\n";
  return out;
}

}  // namespace btap::sema
