# `python3 -m HelperSDT SCRIPT [ARGS]`: runs SCRIPT as `python3 SCRIPT ARGS` would (its
# argv, `__main__`, exit status and exceptions), traced for btap's python probes when
# a probe is attached.
import os
import sys

import HelperSDT


def _usage():
    sys.stderr.write("usage: python -m HelperSDT SCRIPT [ARGS...]\n")
    sys.exit(2)


def _main():
    if len(sys.argv) < 2:
        _usage()
    path = sys.argv[1]
    # Python 3.9 and later name a script by its absolute path.
    if sys.version_info >= (3, 9):
        path = os.path.abspath(path)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except (IOError, OSError) as e:
        sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n"
                         % (sys.executable, path, e.errno, e.strerror))
        sys.exit(2)
    # As the interpreter runs a script: argv without this module, the script's folder
    # first on the path, a fresh __main__.
    sys.argv[:] = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    import types
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    main.__loader__ = None
    main.__spec__ = None
    # This runner is __main__ until now: kept alive, as Python 2 empties a freed module's
    # globals (HelperSDT among them) while its code still runs.
    HelperSDT._runner = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    code = compile(source, path, "exec")
    HelperSDT.start()
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException:
        HelperSDT.stop()
        # The traceback the interpreter would print: from the script's frames on.
        kind, value, tb = sys.exc_info()
        while tb is not None and HelperSDT.own_frame(tb.tb_frame):
            tb = tb.tb_next
        if hasattr(value, "with_traceback"):  # (Python 3 prints the exception's own)
            value = value.with_traceback(tb)
        sys.excepthook(kind, value, tb)
        if issubclass(kind, KeyboardInterrupt):
            # Raised on, its traceback printed: the interpreter then ends as it ends an
            # interrupted script (its atexit handlers and buffers run; from Python 3.8 by
            # SIGINT, as the shell expects).
            sys.excepthook = lambda *args: None
            raise
        sys.exit(1)


_main()
