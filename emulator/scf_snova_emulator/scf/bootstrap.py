"""SCF extra ``bootstrap``: run one SCF invocation in this (child) process,
``python -I -S -B -u bootstrap.py REQUEST_FD RESULT_FD``.

Started by :mod:`.runtime` on the interpreter of the function's runtime, isolated (``-I -S``: no
site-packages, no user site, no ``PYTHON*`` variables), in the extracted code package, possibly
as an unprivileged user. Runs on Python 3.6 and later, uses the standard library only and never
imports the emulator. Steps:

1. read the request from ``REQUEST_FD``; put the code package (SCF's ``/var/user``) and the
   layers (SCF's ``/opt``) in front of the standard library on ``sys.path``, and nothing else;
2. limit the size of any file written (SCF's ``/tmp`` holds 512 MB) and the open files (1024);
3. import the handler's module (the init phase); an extension module that SCF's platform could
   not load (another CPU, OS, C library, or Python version) fails the import, naming the file;
4. tell the parent the handler starts, by writing one byte to the file descriptor named in
   ``SCF_EMULATOR_READY_FD``, so the parent's Timeout clock covers the handler only;
5. call ``handler(event, context)``; stdout, stderr and ``logging`` all go to the one output
   file the parent gave us as stdout/stderr;
6. write ``{"ok", "ret" | "error_type", "error_message", "stack", "duration_ms",
   "maxrss_kb"}`` to ``RESULT_FD``;
7. kill its own process group (itself and whatever the function left running).
"""

import importlib.machinery
import json
import logging
import os
import re
import resource
import signal
import struct
import sys
import time
import traceback

#: SCF's /tmp is 512 MB; no file the function writes may be larger.
MAX_FILE_BYTES = 512 * 1024 * 1024
#: Open files per instance.
MAX_OPEN_FILES = 1024
#: The newest symbol versions a ``manylinux2014`` (``manylinux_2_17``) library may need: what
#: SCF's CentOS 7 (glibc 2.17, GCC 4.8) provides.
SYMBOL_LIMITS = {"GLIBC": (2, 17), "GLIBCXX": (3, 4, 19), "CXXABI": (1, 3, 7), "GCC": (4, 8, 0)}
RULE = (
    "SCF's Python runtimes run CPython on CentOS 7 x86_64 (glibc 2.17): package wheels tagged "
    "cp{}{} (or abi3) and manylinux2014_x86_64 (manylinux_2_17) or older"
)
_EM_X86_64 = 62
_SHT_DYNAMIC = 6
_SHT_GNU_VERNEED = 0x6FFFFFFE
_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


def _cstring(data, offset):
    return data[offset : data.index(b"\0", offset)].decode("ascii", "replace")


def elf_problem(data):
    """Why the ELF image ``data`` cannot load on SCF's platform, or ``None``; also its
    ``DT_NEEDED`` libraries and run paths: ``(problem, needed, runpaths)``."""
    if data[:4] != b"\x7fELF":
        return "is not a Linux (ELF) library: it was built for another OS", [], []
    if data[4] != 2 or data[5] != 1:
        return "is not a 64-bit little-endian ELF library", [], []
    machine = struct.unpack_from("<H", data, 18)[0]
    if machine != _EM_X86_64:
        return f"is built for ELF machine {machine}, not x86_64", [], []
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    needed, runpaths, versions = [], [], []
    for _, kind, _, _, offset, size, link, info, _, _ in sections:
        strtab = sections[link][4] if link < len(sections) else 0
        if kind == _SHT_DYNAMIC:
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == 0:
                    break
                if tag == 1:
                    needed.append(_cstring(data, strtab + value))
                elif tag in (15, 29):
                    runpaths.extend(_cstring(data, strtab + value).split(":"))
        elif kind == _SHT_GNU_VERNEED:
            pos = offset
            for _ in range(info):
                _, count, _, aux, following = struct.unpack_from("<HHIII", data, pos)
                entry = pos + aux
                for _ in range(count):
                    _, _, _, name, step = struct.unpack_from("<IHHII", data, entry)
                    versions.append(_cstring(data, strtab + name))
                    entry += step
                pos += following
    if any(name.startswith("libc.musl") for name in needed):
        return "is a musllinux build: SCF's Linux uses glibc", needed, runpaths
    for version in versions:
        prefix, _, number = version.partition("_")
        limit = SYMBOL_LIMITS.get(prefix)
        if limit and re.match(r"^[\d.]+$", number):
            if tuple(int(p) for p in number.split(".")) > limit:
                wanted = ".".join(str(p) for p in limit)
                return (
                    f"needs {version}, newer than SCF's {prefix}_{wanted}",
                    needed,
                    runpaths,
                )
    return None, needed, runpaths


class NativeCheck:
    """A ``sys.meta_path`` finder in front of the standard one: extension modules of the code
    package and the layers must load on SCF's platform, or their import fails, naming the file
    and the rule. The standard library is not checked."""

    def __init__(self, roots, version):
        self.roots = [os.path.join(os.path.realpath(r), "") for r in roots]
        self.rule = RULE.format(*version)
        self.version = "{}.{}".format(*version)
        self.checked = {}

    def _ours(self, path):
        real = os.path.join(os.path.realpath(path), "")
        return any(real.startswith(root) for root in self.roots)

    def _name(self, path):
        real = os.path.realpath(path)
        for root in self.roots:
            if real.startswith(root):
                return os.path.relpath(real, root)
        return real

    def _check(self, path, trail):
        if path in self.checked:
            return self.checked[path]
        self.checked[path] = None
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            problem, needed, runpaths = elf_problem(data)
        except (struct.error, ValueError, IndexError):
            problem, needed, runpaths = "is not a readable ELF library", [], []
        if problem is None:
            origin = os.path.dirname(path)
            dirs = [p.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for p in runpaths]
            dirs += [root.rstrip(os.sep) for root in self.roots]
            for library in needed:
                for directory in dirs:
                    candidate = os.path.join(directory, library)
                    if os.path.isfile(candidate) and self._ours(candidate):
                        problem = self._check(candidate, trail + [library])
                        break
                if problem:
                    break
            self.checked[path] = problem
            return problem
        problem = f"{self._name(path)} {problem}"
        if trail:
            problem += " (needed through {})".format(" -> ".join(trail))
        self.checked[path] = problem
        return problem

    def _foreign(self, fullname, path):
        tail = fullname.rpartition(".")[2] + "."
        for directory in path if path is not None else sys.path:
            if not isinstance(directory, str) or not self._ours(directory):
                continue
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                if name.startswith(tail) and name.endswith(_NATIVE_SUFFIXES):
                    loadable = ", ".join("*" + s for s in importlib.machinery.EXTENSION_SUFFIXES)
                    return (
                        f"{self._name(os.path.join(directory, name))} is an extension module for "
                        f"another Python or OS; CPython {self.version} loads only {loadable}"
                    )
        return None

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            problem = self._foreign(fullname, path)
        elif isinstance(spec.loader, importlib.machinery.ExtensionFileLoader) and self._ours(
            spec.origin
        ):
            problem = self._check(spec.origin, [])
        else:
            return spec
        if problem:
            raise ImportError(f"{problem}. {self.rule}", name=fullname)
        return spec


def _signal_ready():
    fd = os.environ.pop("SCF_EMULATOR_READY_FD", None)
    if fd is not None:
        try:
            os.write(int(fd), b"s")
            os.close(int(fd))
        except OSError:
            pass


def _peak_rss_kb():
    """This process's peak RSS in KB. ``VmHWM`` where /proc exists: ``ru_maxrss`` survives
    exec, so it would report the emulator's own peak (the process we were forked from)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _configure_logging(request_id):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t" + request_id + "\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _isolate(request):
    roots = [request["code_dir"]] + ([request["opt_dir"]] if request.get("opt_dir") else [])
    sys.path[:] = roots + [p for p in sys.path if p]  # -I -S: the standard library only
    sys.meta_path.insert(0, NativeCheck(roots, sys.version_info[:2]))
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(roots)  # for processes the function starts
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    limits = ((resource.RLIMIT_FSIZE, MAX_FILE_BYTES), (resource.RLIMIT_NOFILE, MAX_OPEN_FILES))
    for limit, value in limits:
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _user_stack(exc):
    """The traceback from the function's own frames on (the bootstrap's are dropped)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def main(request_fd, result_fd):
    with os.fdopen(request_fd, encoding="utf-8") as fh:
        request = json.load(fh)
    _isolate(request)
    _configure_logging(request["context"]["request_id"])
    module_name, _, function_name = request["handler"].rpartition(".")
    result = {"ok": False}
    started = None
    try:
        __import__(module_name)  # the import statement's machinery: no importlib frames
        function = getattr(sys.modules[module_name], function_name)
        _signal_ready()
        started = time.monotonic()
        value = function(request["event"], request["context"])
        result["duration_ms"] = (time.monotonic() - started) * 1000.0
        try:
            result["ret"] = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the return value is not JSON serializable: {exc}") from exc
        result["ok"] = True
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are user errors too
        if started is not None:
            result["duration_ms"] = (time.monotonic() - started) * 1000.0
        stack = _user_stack(exc)
        sys.stdout.flush()
        sys.stderr.write(stack)
        result.update(
            ok=False,
            phase="invoke" if started is not None else "init",
            error_type=type(exc).__name__,
            error_message=str(exc),
            stack=stack.rstrip("\n"),
        )
    finally:
        _signal_ready()
        sys.stdout.flush()
        sys.stderr.flush()
        result["maxrss_kb"] = _peak_rss_kb()
        with os.fdopen(result_fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
    # The invocation is over once the result is written: skip interpreter teardown (atexit
    # handlers, non-daemon threads) and take down any process the function started, which share
    # our process group. Done from here, before the parent reaps us, so the group id cannot have
    # been reused by another invocation.
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)
