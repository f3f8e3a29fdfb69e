#!/usr/bin/env bash
# Listing and resolving with the kernel's DWARF, on the host: btap -r KERNEL-DIR reads the
# -dbg vmlinux that `fetch-kernel.sh --dbg` puts next to the guest's image (cheaper than
# copying its 600 MB into the guest). Also: a pattern that needs DWARF, without it, is a
# located error saying where btap looked. And an object compiled for the guest's kernel,
# run here: refused where it needs what this kernel lacks.
# Usage: tests/vm/kernel_dwarf_host.sh BTAP [KERNEL-DIR]
set -uo pipefail
btap=$1
dir=${2:-$HOME/.cache/btap/vm/kernel/default}
[[ -f $dir/vmlinux ]] || { echo "no $dir/vmlinux: run tests/vm/fetch-kernel.sh --dbg" >&2; exit 1; }
failed=0
check() {  # check NAME EXPECTED ARGS...
  local name=$1 want=$2
  shift 2
  local got
  got=$("$btap" "$@" 2>&1)
  if [[ $got == "$want" ]]; then echo "ok   $name"; else
    echo "FAIL $name"; diff <(echo "$want") <(echo "$got") | head -20; failed=1
  fi
}
check listing_file_line 'kernel.function("vfs_read@fs/read_write.c:450")' \
  -r "$dir" -l 'kernel.function("vfs_read")'
check listing_statement_vars \
  'kernel.statement("vfs_read@fs/read_write.c:464") $file:struct file* $buf:char* $count:size_t $pos:loff_t* $ret:ssize_t' \
  -r "$dir" -L 'kernel.statement("vfs_read@fs/read_write.c:464")'
check listing_inline_vars \
  'kernel.function("__do_sys_read@fs/read_write.c:621").inline $count:size_t $buf:char* $fd:unsigned int' \
  -r "$dir" -L 'kernel.function("__do_sys_read").inline'
check listing_file_glob 'kernel.function("ip_rcv@net/ipv4/ip_input.c:560")
kernel.function("ip_rcv_core@net/ipv4/ip_input.c:456")
kernel.function("ip_rcv_finish@net/ipv4/ip_input.c:435")
kernel.function("ip_rcv_finish_core@net/ipv4/ip_input.c:317")' \
  -r "$dir" -l 'kernel.function("ip_rcv*@*/ipv4/*.c")'
check statement_no_code \
  '<input>:1:14: error: no code at `vfs_read@fs/read_write.c:460`; lines with code there: 451 454 455 456 457 458 459 461 462 464 467 468
probe kernel.statement("vfs_read@fs/read_write.c:460") {}
             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.statement("vfs_read@fs/read_write.c:460") {}'
check local_optimized_out \
  '<input>:1:52: error: cannot read `$ret` in `kernel.function("vfs_read")`: not available at this address (optimized out)
probe kernel.function("vfs_read") { printf("%d\n", $ret) }
                                                   ^~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.function("vfs_read") { printf("%d\n", $ret) }'
check at_var_missing \
  '<input>:1:43: error: cannot read `@var("nr_threads")` in `kernel.function("vfs_read")`: the kernel'"'"'s DWARF has no global variable `nr_threads` in the unit of `vfs_read`
probe kernel.function("vfs_read") { print(@var("nr_threads")) }
                                          ^~~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.function("vfs_read") { print(@var("nr_threads")) }'
check statement_relative_line \
  'kernel.statement("vfs_read@fs/read_write.c:464") $file:struct file* $buf:char* $count:size_t $pos:loff_t* $ret:ssize_t' \
  -r "$dir" -L 'kernel.statement("vfs_read@fs/read_write.c+14")'
check inline_only_return \
  '<input>:1:14: error: `__do_sys_read` is only inlined in this kernel, and an inlined function has no `.return` to probe; probe its callers'"'"' returns instead
probe kernel.function("__do_sys_read").return {}
             ^~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.function("__do_sys_read").return {}'
# FUNC@FILE:*: the function's own lines with code (rw_verify_area, inlined from above it,
# is not vfs_read's).
check statement_all_lines_listing \
  'kernel.statement("vfs_read@fs/read_write.c:451")
kernel.statement("vfs_read@fs/read_write.c:456")
kernel.statement("vfs_read@fs/read_write.c:458")
kernel.statement("vfs_read@fs/read_write.c:461")
kernel.statement("vfs_read@fs/read_write.c:462")
kernel.statement("vfs_read@fs/read_write.c:464")
kernel.statement("vfs_read@fs/read_write.c:467")
kernel.statement("vfs_read@fs/read_write.c:468")
kernel.statement("vfs_read@fs/read_write.c:470")
kernel.statement("vfs_read@fs/read_write.c:473")
kernel.statement("vfs_read@fs/read_write.c:474")
kernel.statement("vfs_read@fs/read_write.c:475")
kernel.statement("vfs_read@fs/read_write.c:477")
kernel.statement("vfs_read@fs/read_write.c:478")' \
  -r "$dir" -l 'kernel.statement("vfs_read@fs/read_write.c:*")'
check clone_by_name_return \
  'kernel.function("do_execveat_common@fs/exec.c:1903").return $return:int $fd:int $filename:struct filename* $flags:int' \
  -r "$dir" -L 'kernel.function("do_execveat_common").return'
check init_function_refused \
  '<input>:1:14: error: cannot probe kernel function `tcp_init`: it is init code, which runs once at boot (and is freed after)
probe kernel.function("tcp_init@net/ipv4/tcp.c") {}
             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.function("tcp_init@net/ipv4/tcp.c") {}'
# A wildcard leaves init code out (and shares one link: the body reads no $vars).
points=$("$btap" -r "$dir" -p2 -e 'probe kernel.function("*@net/ipv4/tcp.c") {}')
if [[ $? != 0 || $points == *tcp_init@* || $points != *'kernel.function("tcp_sendmsg@'* ]]; then
  echo "FAIL wildcard_leaves_out_init"; failed=1
else echo "ok   wildcard_leaves_out_init"; fi
check module_listing_file_line 'module("brd").function("brd_rw_page@drivers/block/brd.c:318")' \
  -r "$dir" -l 'module("brd").function("brd_rw_page")'
check module_statement_vars \
  'module("brd").statement("brd_do_bvec@drivers/block/brd.c:275") $brd:struct brd_device* $page:struct page* $len:unsigned int $off:unsigned int $opf:blk_opf_t $sector:sector_t $mem:void* $err:int' \
  -r "$dir" -L 'module("brd").statement("brd_do_bvec@drivers/block/brd.c:275")'
check module_no_dwarf \
  "<input>:1:22: error: a source file in \`lo_rw_aio@drivers/block/loop.c\` needs the module's DWARF: btap found no DWARF for module \`loop\` of kernel $(cat "$dir/release") (none of its 1 files had usable debug information; -v says why); install its debug symbols, such as Debian's linux-image-$(cat "$dir/release")-dbg
probe module(\"loop\").function(\"lo_rw_aio@drivers/block/loop.c\") {}
                     ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated." \
  -r "$dir" -p2 -e 'probe module("loop").function("lo_rw_aio@drivers/block/loop.c") {}'
check at_var_per_cpu \
  '<input>:1:50: error: cannot read `@var("runqueues")` in `kernel.trace("sched:sched_switch")`: it is a per-CPU variable (each CPU has its own copy), which btap does not read yet
probe kernel.trace("sched:sched_switch") { print(@var("runqueues")) }
                                                 ^~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.trace("sched:sched_switch") { print(@var("runqueues")) }'
# An object that reads a kernel variable at the guest kernel's addresses, run here: refused.
obj=$(mktemp --suffix=.bo)
"$btap" -r "$dir" -p4 -o "$obj" -e 'probe kernel.trace("sched:sched_switch") { print(@var("nr_threads")) exit() }' >/dev/null 2>&1
got=$("$(dirname "$btap")/btaprun" "$obj" 2>&1)
want="btaprun: error: the object reads kernel variables at the addresses of the kernel with build id $(readelf -n "$dir/vmlinux" 2>/dev/null | sed -n 's/.*Build ID: //p' | head -1) (from its DWARF), and this kernel's is "
if [[ $got == "$want"*"; compile the script again for this kernel" ]]; then echo "ok   at_var_other_kernel"
else echo "FAIL at_var_other_kernel: $got"; failed=1; fi
rm -f "$obj"
# CO-RE: an object compiled for the guest's 6.1 reads two members of task_struct that
# this kernel's lacks (gone since 6.4 and 6.6): when it fails to load, both are named with
# the lines that read them (and `btaprun -L` names them without loading); a third, read
# only under @defined, is left to the verifier. Without those reads the object runs
# here, @defined choosing, and so does a read after `if (!@defined(...)) next`.
core_script='probe kernel.trace("sched_process_exec") {
  if (pid() != target()) next
  printf("%d\n", $p->backing_dev_info)
  printf("%d\n", $p->closid)
  if (@defined($p->curr_ret_depth)) printf("depth=%d\n", $p->curr_ret_depth)
  println(@choose_defined($p->curr_ret_stack, 7))
}'
if "$btap" -p4 -o /dev/null -e "$core_script" >/dev/null 2>&1; then
  echo "skip core_misses_named (this kernel has those members)"
else
  obj=$(mktemp --suffix=.bo)
  "$btap" -r "$dir" -p4 -o "$obj" -e "$core_script" >/dev/null 2>&1
  got=$("$(dirname "$btap")/btaprun" -c true "$obj" 2>&1)
  want='btaprun: error: this kernel lacks 2 types or members the object reads (it was compiled for a kernel that has them: compile the script for this kernel, or read them under @defined):
  `struct task_struct` has no member `backing_dev_info`, read at <input>:3:22
  `struct task_struct` has no member `closid`, read at <input>:4:22'
  if [[ $got == "$want" ]]; then echo "ok   core_misses_named"
  else echo "FAIL core_misses_named"; diff <(echo "$want") <(echo "$got"); failed=1; fi
  got=$("$(dirname "$btap")/btaprun" -L "$obj" 2>&1)
  want='kernel.trace("sched:sched_process_exec")
# may not load here: this kernel lacks 2 types or members the object reads (it was compiled for a kernel that has them: compile the script for this kernel, or read them under @defined):
#   `struct task_struct` has no member `backing_dev_info`, read at <input>:3:22
#   `struct task_struct` has no member `closid`, read at <input>:4:22'
  if [[ $got == "$want" ]]; then echo "ok   core_misses_listed"
  else echo "FAIL core_misses_listed"; diff <(echo "$want") <(echo "$got"); failed=1; fi
  "$btap" -r "$dir" -p4 -o "$obj" -e "$(grep -v 'backing_dev_info\|closid' <<<"$core_script")" >/dev/null 2>&1
  got=$("$(dirname "$btap")/btaprun" -c true "$obj" 2>&1)
  if [[ $got == 7 ]]; then echo "ok   core_guarded_runs"
  else echo "FAIL core_guarded_runs: $got"; failed=1; fi
  "$btap" -r "$dir" -p4 -o "$obj" -e 'probe kernel.trace("sched_process_exec") {
  if (pid() != target()) next
  if (!@defined($p->backing_dev_info)) { println("none"); next }
  println($p->backing_dev_info)
}' >/dev/null 2>&1
  got=$("$(dirname "$btap")/btaprun" -c true "$obj" 2>&1)
  if [[ $got == none ]]; then echo "ok   core_dead_read_runs"
  else echo "FAIL core_dead_read_runs: $got"; failed=1; fi
  rm -f "$obj"
fi
check at_var_ambiguous \
  '<input>:1:50: error: cannot read `@var("debug")` in `kernel.trace("sched:sched_switch")`: the kernel has 2 variables named `debug` (in security/security.c, drivers/pci/hotplug/pci_hotplug_core.c); name the file, as @var("debug@FILE")
probe kernel.trace("sched:sched_switch") { print(@var("debug")) }
                                                 ^~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.trace("sched:sched_switch") { print(@var("debug")) }'
check at_var_compiles '/dev/null' \
  -r "$dir" -p4 -o /dev/null -e 'probe kernel.function("vfs_read") { print(@var("nr_threads@kernel/fork.c") + $generic_ro_fops->read_iter) }'
# C labels (`.label`) from the DWARF: those with code (join_session_keyring's `okay:` has
# none), wildcards in the function, its file and the label, the $vars in scope at one,
# a module's, and a label that is not there (a suggestion, at the label) or after a line.
check label_listing 'kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error")
kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error2")
kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error3")' \
  -r "$dir" -l 'kernel.function("join_session_keyring").label("*")'
check label_vars \
  'kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error2") $name:char const* $old:struct cred const* $new:struct cred* $keyring:struct key* $ret:long int' \
  -r "$dir" -L 'kernel.function("join_session_keyring").label("error2")'
check label_wildcards 'kernel.function("chmod_common@fs/open.c:589").label("retry_deleg")
kernel.function("chown_common@fs/open.c:702").label("retry_deleg")
kernel.function("do_faccessat@fs/open.c:420").label("retry")
kernel.function("do_fchmodat@fs/open.c:637").label("retry")
kernel.function("do_sys_truncate@fs/open.c:122").label("retry")' \
  -r "$dir" -l 'kernel.function("*@fs/open.c").label("retry*")'
check label_module 'module("brd").function("brd_alloc@drivers/block/brd.c:405").label("out_cleanup_disk")
module("brd").function("brd_alloc@drivers/block/brd.c:405").label("out_free_dev")
module("brd").function("brd_do_bvec@drivers/block/brd.c:254").label("out")' \
  -r "$dir" -l 'module("brd").function("*").label("*")'
# pp() as stap's: the function with its file and line, then the label.
points=$("$btap" -r "$dir" -p2 -e 'probe kernel.function("do_fchmodat").label("retry") { print($dfd) }')
if [[ $points == *'kernel.function("do_fchmodat@fs/open.c:637").label("retry") /* <- kernel.function("do_fchmodat").label("retry") */'* ]]; then
  echo "ok   label_pp"
else echo "FAIL label_pp: $points"; failed=1; fi
check label_no_match \
  "<input>:1:47: error: no label matches \`eror2\` in the functions \`join_session_keyring\` matches in \`$(readlink -f "$dir/vmlinux")\`; did you mean \`error2\`?
probe kernel.function(\"join_session_keyring\").label(\"eror2\") {}
                                              ^~~~~~~~~~~~~~
1 error generated." \
  -r "$dir" -p2 -e 'probe kernel.function("join_session_keyring").label("eror2") {}'
check label_after_line \
  '<input>:1:14: error: `.label` takes a function without a line: `do_fchmodat@fs/open.c:640`
probe kernel.function("do_fchmodat@fs/open.c:640").label("retry") {}
             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated.' \
  -r "$dir" -p2 -e 'probe kernel.function("do_fchmodat@fs/open.c:640").label("retry") {}'
# A parameter whose location at the label is its value at the function's entry
# (DW_OP_entry_value of a register: join_session_keyring's `name` at error2, read by
# cve-2016-0728.stp): as stap, a probe on the function's entry saves the registers, which
# the object holds as a kprobe of its own at the function's entry (the VM case
# dwarf_label_entry_value runs it).
"$btap" -r "$dir" -p4 -o "$obj" \
  -e 'probe kernel.function("join_session_keyring").label("error2") { print($name) }' >/dev/null 2>&1
got=$("$(dirname "$btap")/btaprun" -L "$obj" 2>&1 | sed 's/  # not here.*//')
want='join_session_keyring (entry values of kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error2"))
kernel.function("join_session_keyring@security/keys/process_keys.c:837").label("error2")'
rm -f "$obj"
if [[ $got == "$want" ]]; then echo "ok   label_entry_value"
else echo "FAIL label_entry_value"; diff <(echo "$want") <(echo "$got"); failed=1; fi
# The same kernel without its DWARF: a directory holding only the image and its release.
bare=$(mktemp -d)
trap 'rm -rf "$bare"' EXIT
ln -s "$(readlink -f "$dir/vmlinuz")" "$bare/vmlinuz"
cp "$dir/release" "$bare/release"
release=$(cat "$dir/release")
check no_dwarf_error \
  "<input>:1:14: error: a source file in \`vfs_read@fs/read_write.c\` needs the kernel's DWARF: btap found no DWARF for kernel $release (looked for \`$bare/vmlinux\`; install its debug symbols, such as Debian's linux-image-$release-dbg, or give -r the directory of a vmlinux built with debug information)
probe kernel.function(\"vfs_read@fs/read_write.c\") {}
             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated." \
  -r "$bare" -p2 -e 'probe kernel.function("vfs_read@fs/read_write.c") {}'
check label_no_dwarf \
  "<input>:1:14: error: \`.label\` needs the kernel's DWARF: btap found no DWARF for kernel $release (looked for \`$bare/vmlinux\`; install its debug symbols, such as Debian's linux-image-$release-dbg, or give -r the directory of a vmlinux built with debug information)
probe kernel.function(\"do_fchmodat\").label(\"retry\") {}
             ^~~~~~~~~~~~~~~~~~~~~~~
1 error generated." \
  -r "$bare" -p2 -e 'probe kernel.function("do_fchmodat").label("retry") {}'
check at_var_no_dwarf \
  "<input>:1:43: error: cannot read \`@var(\"nr_threads@kernel/fork.c\")\` in \`kernel.function(\"vfs_read\")\`: it needs the kernel's DWARF: btap found no DWARF for kernel $release (looked for \`$bare/vmlinux\`; install its debug symbols, such as Debian's linux-image-$release-dbg, or give -r the directory of a vmlinux built with debug information)
probe kernel.function(\"vfs_read\") { print(@var(\"nr_threads@kernel/fork.c\")) }
                                          ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error generated." \
  -r "$bare" -p2 -e 'probe kernel.function("vfs_read") { print(@var("nr_threads@kernel/fork.c")) }'
exit $failed
