# The python_details_* runtime cases' program: two functions called alike, one with a
# large list; how many events HelperSDT computed the strings of ($$parms...) is counted
# and printed per function at the end (to stderr), with the program's own result.
import sys

import HelperSDT

computed = {}
_vars_string = HelperSDT._vars_string


def counting(frame, names):
    name = frame.f_code.co_name
    computed[name] = computed.get(name, 0) + 1
    return _vars_string(frame, names)


HelperSDT._vars_string = counting


def wanted(n):
    return n + 1


def other(items):
    return len(items)


def main():
    items = list(range(10000))
    total = 0
    for i in range(int(sys.argv[1])):
        total += wanted(i) + other(items)
    sys.stderr.write("total %d\n" % total)
    # (The call and return strings: two per event, $$parms and $$locals.)
    sys.stderr.write("computed wanted=%d other=%d\n"
                     % (computed.get("wanted", 0), computed.get("other", 0)))


main()
