#!/usr/bin/env python3
"""Lists the machine's BPF programs as JSON, as `bpftool prog show -j` does for the fields
the benchmarks read (id, type, run_time_ns, run_cnt, bytes_xlated), without opening any
map: bpftool opens every program's maps by id, and closing the last reference of a program
array a session has just released can leave that array in the kernel for good (a Linux
defect, see docs/runtime.md). Needs root."""
import ctypes
import json
import os
import struct

BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD = 11, 13, 15
SYS_BPF = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
TYPES = {2: "kprobe", 5: "tracepoint", 7: "perf_event", 17: "raw_tracepoint", 26: "tracing"}
libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    return libc.syscall(SYS_BPF, cmd, buf, 128), buf


def programs():
    next_id = 0
    while True:
        ret, buf = bpf(BPF_PROG_GET_NEXT_ID, struct.pack("I", next_id))
        if ret != 0:
            return
        next_id = struct.unpack_from("I", buf.raw, 4)[0]
        fd, _ = bpf(BPF_PROG_GET_FD_BY_ID, struct.pack("I", next_id))
        if fd < 0:  # gone since
            continue
        info = ctypes.create_string_buffer(256)  # bpf_prog_info, nothing asked for but it
        ret, _ = bpf(BPF_OBJ_GET_INFO_BY_FD,
                     struct.pack("IIQ", fd, len(info), ctypes.addressof(info)))
        os.close(fd)
        if ret != 0:
            continue
        kind, pid = struct.unpack_from("II", info.raw, 0)
        xlated = struct.unpack_from("I", info.raw, 20)[0]
        run_time, run_cnt = struct.unpack_from("QQ", info.raw, 192)
        yield {"id": pid, "type": TYPES.get(kind, str(kind)), "bytes_xlated": xlated,
               "run_time_ns": run_time, "run_cnt": run_cnt}


if __name__ == "__main__":
    print(json.dumps(list(programs())))
