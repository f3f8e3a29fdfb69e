# btap's HelperSDT: reports the calls, returns and lines of Python code to btap's
# python2/python3 probes through the SDT marks of libbtap_python.so (ctypes). Nothing is
# traced unless a btap probe is attached to one of those marks: their semaphores tell.
import ctypes
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY = os.path.join(_HERE, "libbtap_python.so")


def _load():
    try:
        return ctypes.CDLL(_LIBRARY)
    except OSError:
        return None


_lib = _load()
_major = 3 if sys.version_info[0] >= 3 else 2

class _Semaphores(object):
    """A kind of event's two semaphores: probes that read names and lines only, and
    probes that read the strings too (computed only for those)."""

    def __init__(self, lib, kind):
        self.names = ctypes.c_ushort.in_dll(lib, "btap_python_%s_semaphore" % kind)
        self.details = ctypes.c_ushort.in_dll(
            lib, "btap_python_%s_details_semaphore" % kind)

    @property
    def value(self):
        return self.names.value or self.details.value


if _lib is not None:
    _call_sem = _Semaphores(_lib, "call")
    _return_sem = _Semaphores(_lib, "return")
    _line_sem = _Semaphores(_lib, "line")
    _marks = []
    for _what in ("call", "return", "line"):
        _f = getattr(_lib, "btap_python%d_%s" % (_major, _what))
        _f.restype = None
        _f.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64,
                       ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_char_p]
        _marks.append(_f)
    _call_mark, _return_mark, _line_mark = _marks

# Frames of this package (and the runner's) end a backtrace and are never reported.
_OWN = os.sep + "HelperSDT" + os.sep

_CO_VARARGS = 0x4
_CO_VARKEYWORDS = 0x8


def own_frame(frame):
    """Whether a frame is this package's."""
    return _OWN in frame.f_code.co_filename


def active():
    """Whether a btap probe is attached to any of the marks."""
    return _lib is not None and bool(
        _call_sem.value or _return_sem.value or _line_sem.value)


def _bytes(s):
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "replace")


def _type_name(value):
    return type(value).__name__


def value_repr(value):
    """A value as stap's python tapsets print it: strings quoted, integers in hex,
    tuples, lists and dicts with their items space-separated, other objects by type
    and address."""
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, int):
        return "%#x" % value if value >= 0 else "-%#x" % -value
    if isinstance(value, tuple):
        return "(" + " ".join(value_repr(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + " ".join(value_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + " ".join(
            value_repr(k) + ":" + value_repr(v) for k, v in value.items()) + "}"
    return "<%s object at %#x>" % (_type_name(value), id(value))


def _names(code):
    """The parameter names and the other local names of a code object."""
    n = code.co_argcount + getattr(code, "co_kwonlyargcount", 0)
    if code.co_flags & _CO_VARARGS:
        n += 1
    if code.co_flags & _CO_VARKEYWORDS:
        n += 1
    names = code.co_varnames
    return names[:n], names[n:]


def _vars_string(frame, names):
    f_locals = frame.f_locals
    out = []
    for name in names:
        value = f_locals[name] if name in f_locals else None
        out.append("%s=%s" % (name, "<NULL>" if name not in f_locals
                              else value_repr(value)))
    return " ".join(out)


def backtrace(frame):
    """stap's python backtrace: the innermost frame first, up to this package's."""
    lines = ["Traceback (most recent call first):\n"]
    while frame is not None:
        filename = frame.f_code.co_filename
        if _OWN in filename:
            break
        lines.append('  File "%s", line %d, in %s\n'
                     % (filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return "".join(lines)


def _module_name(filename):
    base = os.path.basename(filename)
    if base == "__init__.py":
        base = os.path.basename(os.path.dirname(filename))
    stem, ext = os.path.splitext(base)
    return stem if ext in (".py", ".pyc", ".pyw") else base


def _report(mark, semaphores, frame, value=None, returning=False):
    code = frame.f_code
    if not semaphores.details.value:
        mark(b"", _bytes(_module_name(code.co_filename)),
             _bytes(getattr(code, "co_qualname", code.co_name)),
             _bytes(code.co_filename), frame.f_lineno, code.co_firstlineno,
             b"", b"", b"", b"")
        return
    value = value_repr(value) if returning else ""
    parms, others = _names(code)
    parms = _vars_string(frame, parms)
    others = _vars_string(frame, others)
    mark(_bytes(backtrace(frame)), _bytes(_module_name(code.co_filename)),
         _bytes(getattr(code, "co_qualname", code.co_name)),
         _bytes(code.co_filename), frame.f_lineno, code.co_firstlineno,
         _bytes(parms), _bytes(others),
         _bytes(" ".join(s for s in (parms, others) if s)), _bytes(value))


def _local(frame, event, arg):
    if event == "line":
        if _line_sem.value:
            _report(_line_mark, _line_sem, frame)
    elif event == "return":
        if _return_sem.value:
            _report(_return_mark, _return_sem, frame, arg, True)
    return _local


def _global(frame, event, arg):
    if event != "call" or _OWN in frame.f_code.co_filename:
        return None
    if not active():
        return None
    if _call_sem.value:
        _report(_call_mark, _call_sem, frame)
    if not (_return_sem.value or _line_sem.value):
        return None
    frame.f_trace_lines = bool(_line_sem.value)
    return _local


def start():
    """Traces this thread and the threads started later, when a probe is attached
    (the kernel raises the semaphores when the library is mapped after attaching)."""
    if not active():
        return False
    import threading
    threading.settrace(_global)
    sys.settrace(_global)
    return True


def stop():
    import threading
    threading.settrace(None)
    sys.settrace(None)
