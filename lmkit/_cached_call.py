"""Run a numba kernel from numba's on-disk cache only: a missing kernel is compiled in a child process.

Why a child: a kernel's callees that LLVM does not inline (the word2vec kernel's
``logistic_rows`` and ``merge_private_rows``) stay in the kernel's object code as
weak symbols.  In the process that compiles the kernel, those symbols resolve to
the callees' own code, compiled and loaded first; a process that loads the kernel
from the cache runs the copies inside the kernel's object code.  The two copies
were optimized apart and, under fastmath, round differently, so the first run of
a seed trained different vectors from every later run (word2vec SG-NS batched,
Brown train, 1 epoch, 1 thread: max difference 4.9e-5), although the kernel's
object code in the cache was byte for byte the one the compiling process ran.
Compiled in a child and loaded here, the first run executes the same machine code
as every later one.

Inlining the callees at numba's level would also remove the weak symbols, but it
made the cold compile about 3x longer (one copy of ``logistic_rows`` per call
site; measured once, on a loaded machine).
The child process is handed the kernel's signature (numba types, pickled over
its stdin: nothing is stored); it compiles, writes the cache, and exits.
"""
from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numba
from numba.core import event

log = logging.getLogger(__name__)


class _NotCached(Exception):
    """Raised by :class:`_NoCompiling` to stop a compile in this process."""


class _NoCompiling(event.Listener):
    """Stops the compile of ``dispatcher`` in this process.  numba announces a compile
    ("numba:compile") only after its cache had no code for the signature."""

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher

    def on_start(self, ev) -> None:
        if ev.data["dispatcher"] is self.dispatcher:
            raise _NotCached

    def on_end(self, ev) -> None:
        pass


def run_if_cached(dispatcher, args: tuple) -> bool:
    """Call ``dispatcher(*args)`` unless that needs it compiled in this process: True if it ran (its
    code was loaded, from this process or numba's cache), False if not."""
    with event.install_listener("numba:compile", _NoCompiling(dispatcher)):
        try:
            dispatcher(*args)
        except _NotCached:
            return False
    return True


def signature(dispatcher, args: tuple) -> tuple:
    """The numba types ``dispatcher`` is compiled for when called with ``args``."""
    return tuple(dispatcher.typeof_pyval(a) for a in args)


class ChildCompile:
    """A child process compiling ``dispatcher`` for the types of ``args``; it writes numba's cache and
    exits.  Started at once, so this process can go on (reading the corpus) while it compiles."""

    def __init__(self, dispatcher, args: tuple):
        self.dispatcher = dispatcher
        self.signature = signature(dispatcher, args)
        module = dispatcher.py_func.__module__
        # the folder the kernel's top-level package (or module) is imported from, so the child imports this copy
        import_root = Path(sys.modules[module].__file__).resolve().parents[module.count(".")]
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, "-c", _CHILD, module, dispatcher.py_func.__qualname__,
                                         str(import_root)],
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errors)
        self.process.stdin.write(pickle.dumps(self.signature))
        self.process.stdin.close()
        self.succeeded: bool | None = None

    def wait(self) -> bool:
        """Wait for the child (once); whether it succeeded (its last error line is logged if not)."""
        if self.succeeded is None:
            status = self.process.wait()
            self.succeeded = status == 0
            if not self.succeeded:
                self.errors.seek(0)
                lines = self.errors.read().decode(errors="replace").strip().splitlines()
                log.warning("compiling %s in a child process failed (%s); compiling it here",
                            self.dispatcher.py_func.__qualname__, lines[-1] if lines else f"exit status {status}")
            self.errors.close()
        return self.succeeded


def _child(dispatcher, args: tuple) -> ChildCompile | None:
    try:
        return ChildCompile(dispatcher, args)
    except OSError as error:  # no interpreter to start: the caller compiles here
        log.warning("could not start a child process to compile %s (%s)", dispatcher.py_func.__qualname__, error)
        return None


def start_compile(dispatcher, args: tuple) -> ChildCompile | None:
    """Load ``dispatcher``'s code for the types of ``args`` from numba's cache, or start compiling it in a
    child process (returned; None if it was cached).  ``dispatcher(*args)`` must do no work: it is called
    to load the code."""
    if numba.config.DISABLE_JIT or run_if_cached(dispatcher, args):
        return None
    return _child(dispatcher, args)


def call_from_cache(dispatcher, args: tuple, started: ChildCompile | None = None) -> str:
    """Call ``dispatcher(*args)`` on code loaded from numba's cache: if it is not there, compile it in a
    child process first (module docstring), or wait for ``started``, a child already compiling it
    (:func:`start_compile`).  Returns "loaded" (nothing
    compiled), "child" (compiled in a child, then loaded), "here" (the cache could not be used:
    compiled in this process, as numba would) or "interpreted" (``NUMBA_DISABLE_JIT``)."""
    if numba.config.DISABLE_JIT:
        dispatcher(*args)
        return "interpreted"
    if started is not None:
        started.wait()  # first, even if the code is there now: no child is left behind
    if run_if_cached(dispatcher, args):
        return "loaded" if started is None else "child"
    if started is None or started.signature != signature(dispatcher, args):
        child = _child(dispatcher, args)
        if child is not None and child.wait() and run_if_cached(dispatcher, args):
            return "child"
    dispatcher(*args)
    return "here"


# The child: import the kernel's module from the parent's lmkit, read the signature, compile (which
# saves the code in numba's cache, as the kernel is jitted with cache=True).
_CHILD = """
import importlib, pickle, sys
sys.path.insert(0, sys.argv[3])
dispatcher = importlib.import_module(sys.argv[1])
for name in sys.argv[2].split("."):
    dispatcher = getattr(dispatcher, name)
dispatcher.compile(pickle.load(sys.stdin.buffer))
"""
