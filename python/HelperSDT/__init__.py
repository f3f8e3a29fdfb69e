# btap's HelperSDT: reports the calls, returns and lines of Python code to btap's
# python2/python3 probes through the SDT marks of libbtap_python.so (ctypes). Nothing is
# traced unless a btap probe is attached to one of those marks: their semaphores tell.
import ctypes
import os
import struct
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
    """A kind of event's three semaphores: probes that read names and lines only, probes
    that read the strings of every event, and probes that read the strings of the
    events the session files match (the strings are computed only for those)."""

    def __init__(self, lib, kind):
        self.kind = kind
        self.names = ctypes.c_ushort.in_dll(lib, "btap_python_%s_semaphore" % kind)
        self.details = ctypes.c_ushort.in_dll(
            lib, "btap_python_%s_details_semaphore" % kind)
        self.filtered = ctypes.c_ushort.in_dll(
            lib, "btap_python_%s_filtered_semaphore" % kind)

    @property
    def value(self):
        return self.names.value or self.details.value or self.filtered.value


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

# A value's text stops here (btap's strings are MAXSTRINGLEN, -D MAXSTRINGLEN=16384 at
# most), and containers are followed this deep: what the tracer does per event is bounded,
# and its own frames (which count toward the program's recursion limit) are few.
_MAX_TEXT = 16384
_MAX_DEPTH = 8
# The frames tracing adds to a traced call at most (the trace function, _report and
# value_repr's walk): the recursion limit is raised by this much while tracing, so a
# program recurses as deep traced as untraced.
_TRACER_FRAMES = _MAX_DEPTH + 8

try:
    _TEXT_TYPES = (str, unicode)  # Python 2
    _INT_TYPES = (int, long)
except NameError:
    _TEXT_TYPES = (str,)
    _INT_TYPES = (int,)


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


def _object_repr(value):
    return "<%s object at %#x>" % (type(value).__name__, id(value))


def _repr(value, depth, seen, budget):
    """value_repr's walk: types tested by type() (isinstance would ask the object's
    __class__), values read by the builtin types' own methods (not a subclass's), cycles
    and depth bounded, and no more than budget[0] characters of items."""
    t = type(value)
    for base in _TEXT_TYPES:
        if issubclass(t, base):  # (cut before it is copied: a huge string costs nothing)
            return '"%s"' % base.__getitem__(value, slice(0, _MAX_TEXT))
    for base in _INT_TYPES:
        if issubclass(t, base):
            n = value if t is base else base.__int__(value)
            if n.bit_length() > 4 * _MAX_TEXT:  # (more digits than a string holds)
                return _object_repr(value)
            return "%#x" % n if n >= 0 else "-%#x" % -n
    for base, ends in ((tuple, "()"), (list, "[]"), (dict, "{}")):
        if not issubclass(t, base):
            continue
        if depth >= _MAX_DEPTH or id(value) in seen:
            return _object_repr(value)
        seen.add(id(value))
        parts = []
        items = dict.items(value) if base is dict else base.__iter__(value)
        for item in items:
            if budget[0] <= 0:
                break
            if base is dict:
                text = (_repr(item[0], depth + 1, seen, budget) + ":" +
                        _repr(item[1], depth + 1, seen, budget))
            else:
                text = _repr(item, depth + 1, seen, budget)
            budget[0] -= len(text) + 1
            parts.append(text)
        seen.discard(id(value))
        return ends[0] + " ".join(parts) + ends[1]
    return _object_repr(value)


def value_repr(value):
    """A value as stap's python tapsets print it: strings quoted, integers in hex,
    tuples, lists and dicts with their items space-separated, other objects by type
    and address. Never runs the program's own code and never raises: a value that cannot
    be read so is printed as an object."""
    try:
        text = _repr(value, 0, set(), [_MAX_TEXT])
    except Exception:
        try:
            return _object_repr(value)
        except Exception:
            return "<?>"
    return text[:_MAX_TEXT]


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


def _qualname(frame):
    """The function's qualified name (`Class.method`): the code's own from Python 3.11;
    before, the class (of `self`, or `cls`) whose dictionary holds a function of this
    code, else the plain name."""
    code = frame.f_code
    name = getattr(code, "co_qualname", None)
    if name is not None:
        return name
    name = code.co_name
    try:
        if code.co_argcount and code.co_varnames[0] in ("self", "cls"):
            first = frame.f_locals.get(code.co_varnames[0])
            owner = first if type(first) is type or issubclass(type(first), type) \
                else type(first)
            for klass in type.mro(owner):
                f = klass.__dict__.get(name)
                f = getattr(f, "__func__", f)
                if getattr(f, "__code__", None) is code:
                    return klass.__name__ + "." + name
    except Exception:
        pass
    return name


# ----- Which events the strings are computed for -----
# A btap session with probes that read the strings writes a file in _SESSIONS before it
# attaches (runtime/python_sessions.cpp): its pid and each such probe's mark and module,
# function and file globs; `generation` there counts the changes of those files. Only a
# session whose file is there attaches the `_filtered` marks: their events' strings are
# computed when a live session's probe of that kind matches the function (when no file
# here accounts for the raised semaphore, e.g. a folder this process cannot read, for
# every event). A session without a file attaches `_details`: every event's strings.
_SESSIONS = "/run/btap/python"
_GENERATION = struct.Struct("<Q")
_RETRY = 1024        # events between two tries to open a `generation` not there yet
_CACHE_SIZE = 4096   # names a generation's matches are kept for (then forgotten)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class _Counter(object):
    def __init__(self):
        self.mapping = None  # the generation file's mapping, once opened
        self.wait = 0        # events before the next try to open it


_counter = _Counter()
# What one generation of the files says: (generation, kind -> [(module, function, file)
# globs], cache (kind, function, file) -> bool). Replaced whole (one assignment), never
# changed but for its cache: an event uses the one it read.
_state = (None, {}, {})


def _glob(glob, text):
    """Whether `glob` (`*`, `?`) matches the whole of `text`, as btap's filters do."""
    g = t = 0
    star, after = -1, 0
    while t < len(text):
        if g < len(glob) and (glob[g] == "?" or glob[g] == text[t]):
            g += 1
            t += 1
        elif g < len(glob) and glob[g] == "*":
            star, after = g, t
            g += 1
        elif star >= 0:
            g = star + 1
            after += 1
            t = after
        else:
            return False
    while g < len(glob) and glob[g] == "*":
        g += 1
    return g == len(glob)


def _matches(pattern, module, function, filename):
    module_glob, function_glob, file_glob = pattern
    if not _glob(module_glob, module) or not _glob(function_glob, function):
        return False
    if file_glob in ("", "*"):
        return True
    # A file's glob matches the whole name or a tail of it after a `/`.
    at = 0
    while at >= 0:
        if _glob(file_glob, filename[at:]):
            return True
        at = filename.find("/", at) + 1 or -1
    return False


def _generation():
    counter = _counter
    if counter.mapping is None:
        if counter.wait > 0:
            counter.wait -= 1
            return None
        counter.wait = _RETRY
        try:
            import mmap
            fd = os.open(os.path.join(_SESSIONS, "generation"), os.O_RDONLY | _NOFOLLOW)
            try:
                if os.fstat(fd).st_size >= _GENERATION.size:  # (never shrinks)
                    counter.mapping = mmap.mmap(fd, _GENERATION.size, mmap.MAP_SHARED,
                                                mmap.PROT_READ)
            finally:
                os.close(fd)
        except Exception:
            counter.mapping = None
        if counter.mapping is None:
            return None
    return _GENERATION.unpack_from(counter.mapping)[0]


def _read_text(path):
    """A small file's text (os's calls: the builtin open may be the program's own)."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def _live(pid, start):
    """Whether the session's process still runs (not a later one of the same pid)."""
    try:
        fields = _read_text("/proc/%d/stat" % int(pid)).rsplit(")", 1)[1].split()
        return fields[19] == start
    except Exception:
        return False


def _read_sessions():
    filters = {}
    try:
        # (Files only root could have written: another folder says nothing.)
        st = os.lstat(_SESSIONS)
        if st.st_uid != 0 or st.st_mode & 0o022 or not os.path.isdir(_SESSIONS):
            return filters
        names = os.listdir(_SESSIONS)
    except (IOError, OSError):
        return filters
    for name in names:
        if not name.endswith(".session"):
            continue
        try:
            lines = _read_text(os.path.join(_SESSIONS, name)).split("\n")
        except (IOError, OSError):
            continue
        if not lines or lines[0] != "btap-python-session 1":
            continue
        marks = []
        alive = False
        for line in lines[1:]:
            fields = line.split("\t")
            if fields[0] == "pid" and len(fields) == 3:
                alive = _live(fields[1], fields[2])
            elif fields[0] == "mark" and len(fields) == 5:
                marks.append(fields[1:])
        if not alive:
            continue
        for mark, module, function, filename in marks:
            parts = mark.split("_")  # pythonN_KIND_details (or _filtered)
            if len(parts) != 3 or parts[0] != "python%d" % _major:
                continue
            filters.setdefault(parts[1], []).append((module, function, filename))
    return filters


def _details_wanted(kind, frame):
    """Whether a `_filtered` probe of this kind may want this event's strings."""
    global _state
    generation = _generation()
    if generation is None:
        return True
    state = _state
    if generation != state[0]:
        # (Read into locals, then published whole: a thread that reads _state meanwhile
        # uses the previous generation's filters with that generation's own cache.)
        try:
            state = (generation, _read_sessions(), {})
        except Exception:
            return True  # (read again at the next event)
        _state = state
    patterns = state[1].get(kind)
    if patterns is None:
        return True  # (a `_filtered` probe of this kind that no file here accounts for)
    code = frame.f_code
    function = getattr(code, "co_qualname", None)  # (before 3.11, from the frame)
    if function is None:
        function = _qualname(frame)
    # Keyed by names, not code objects: code made at run time (eval, exec) is neither
    # kept alive nor makes the cache grow past its names.
    key = (kind, function, code.co_filename)
    cache = state[2]
    wanted = cache.get(key)
    if wanted is None:
        module = _module_name(code.co_filename)
        wanted = False
        for pattern in patterns:
            if _matches(pattern, module, function, code.co_filename):
                wanted = True
                break
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[key] = wanted
    return wanted


def _report(mark, semaphores, frame, value=None, returning=False):
    try:
        _report_event(mark, semaphores, frame, value, returning)
    except Exception:
        # The tracer never raises into the program (a failed event is not reported).
        pass


def _report_event(mark, semaphores, frame, value, returning):
    code = frame.f_code
    if not semaphores.details.value and not (
            semaphores.filtered.value and _details_wanted(semaphores.kind, frame)):
        mark(b"", _bytes(_module_name(code.co_filename)),
             _bytes(_qualname(frame)),
             _bytes(code.co_filename), frame.f_lineno, code.co_firstlineno,
             b"", b"", b"", b"")
        return
    value = value_repr(value) if returning else ""
    parms, others = _names(code)
    parms = _vars_string(frame, parms)
    others = _vars_string(frame, others)
    mark(_bytes(backtrace(frame)), _bytes(_module_name(code.co_filename)),
         _bytes(_qualname(frame)),
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
    if hasattr(frame, "f_trace_lines"):  # (Python 3.7 on; before, line events always come)
        frame.f_trace_lines = bool(_line_sem.value)
    return _local


def start():
    """Traces this thread and the threads started later, when a probe is attached
    (the kernel raises the semaphores when the library is mapped after attaching)."""
    if not active():
        return False
    import threading
    global _raised
    sys.setrecursionlimit(sys.getrecursionlimit() + _TRACER_FRAMES)
    _raised = True
    # Off before the interpreter's shutdown empties this module (Python 2 sets a freed
    # module's globals to None, and the trace function would still run).
    import atexit
    atexit.register(stop)
    threading.settrace(_global)
    sys.settrace(_global)
    return True


_raised = False


def stop():
    import threading
    global _raised
    threading.settrace(None)
    sys.settrace(None)
    if _raised:
        _raised = False
        sys.setrecursionlimit(max(sys.getrecursionlimit() - _TRACER_FRAMES, 50))
