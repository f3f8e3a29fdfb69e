#!/bin/sh
# The python_details_two_sessions runtime case's command: a second btap session ($1, the
# btap binary) whose file goes where no tracer reads it (a folder that cannot be made),
# with a `$$parms` probe on the function the first session's file does not name; it
# runs python_details.py ($2, the source tree) and counts that function's events whose
# strings were computed and those left "".
BTAP_PYTHON_SESSIONS=/proc/btap-no-such-folder/python exec "$1" -e '
global full, empty
probe python3.module("python_details").function("other") { if ($$parms != "") full++; else empty++ }
probe end { printf("B other: full=%d empty=%d\n", full, empty) }' \
  -c "/usr/bin/python3 -m HelperSDT $2/tests/runtime/programs/python_details.py 50"
