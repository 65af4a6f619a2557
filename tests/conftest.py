"""Test-wide settings: where the shared data lives, and a private cache.

``LMKIT_DATA`` defaults to ``../shared/data`` beside the checkout (the
project's reference data); tests that need a file from it use the
``brown_zip`` / ``shared_data`` fixtures (or :func:`missing`), which skip
with the reason when it is missing, and tests that need an optional peer
library (gensim, scipy, kenlm) the ``need_module`` fixture.  With
``LMKIT_REQUIRE_DATA=1`` (set by ``.ci/run``) each of those skips is a
failure instead: CI cannot pass by skipping the real-data tests.  Datasets
are never fetched on first use (LMKIT_NO_DOWNLOAD=1; the download tests use
file:// URLs).  Encoded corpora go to a temporary cache for the session, so
tests never read or pollute the user's ``~/.cache/lmkit``.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "LMKIT_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["LMKIT_DATA"] = str(_SHARED)
os.environ["LMKIT_CACHE"] = tempfile.mkdtemp(prefix="lmkit-test-cache-")
os.environ["LMKIT_NO_DOWNLOAD"] = "1"  # no test reaches the network: a missing dataset fails as offline
# The language-model tests' reference helpers (lm_reference) serve the training tests too.  This is the
# only conftest.py: test modules import its helpers as `conftest`, which a second one would shadow.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lm"))
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def missing(reason: str) -> None:
    """Skip the calling test for want of data or a peer library; fail under ``LMKIT_REQUIRE_DATA=1``."""
    if os.environ.get("LMKIT_REQUIRE_DATA") == "1":
        pytest.fail(f"{reason} (LMKIT_REQUIRE_DATA=1: reference data and test peers are required)")
    pytest.skip(reason)


def import_or_missing(name: str):
    """``import name``, or :func:`missing` naming the package to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="session")
def need_module():
    """The :func:`import_or_missing` function, for tests that use an optional peer library."""
    return import_or_missing


@pytest.fixture(scope="session")
def ray_local(need_module):
    """One local Ray instance of 2 CPUs for every Ray test of the session (starting Ray takes seconds);
    lmkit's ``cluster="local"`` and ``"auto"`` then join it."""
    ray = need_module("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=300 * 2**20,
             log_to_driver=False)  # "local": a new instance, whatever RAY_ADDRESS or another cluster here says
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of reference data (``$LMKIT_DATA``)."""
    folder = Path(os.environ.get("LMKIT_DATA", _SHARED))
    if not (folder / "brown.zip").is_file():
        missing(f"reference data not found in {folder} (set LMKIT_DATA)")
    return folder


@pytest.fixture(scope="session")
def brown_zip(shared_data: Path) -> Path:
    return shared_data / "brown.zip"


def _load_script(name: str):
    """``scripts/<name>.py`` imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """The function ``load_script(name)``: ``scripts/<name>.py`` as a module, to call its functions."""
    return _load_script


def mapped_bytes(path: Path) -> int:
    """Resident bytes of this process's memory maps of ``path`` (Linux ``/proc/self/smaps``; skips elsewhere).

    The kernel counts a mapped page here only once this process has touched it, so this sees any code that
    reads a memory-mapped corpus through its map instead of bounded file reads, however it reads it
    (slicing, ``np.bincount``, a numba kernel): the pages that make VmHWM grow with the corpus.
    """
    smaps = Path("/proc/self/smaps")
    if not smaps.is_file():
        pytest.skip("needs Linux /proc/self/smaps")
    target, current, total = str(Path(path).resolve()), None, 0
    for line in smaps.read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header line: address perms offset dev inode [path]
            current = fields[5] if len(fields) >= 6 else None
        elif fields and fields[0] == "Rss:" and current == target:
            total += int(fields[1]) * 1024
    return total


@pytest.fixture()
def lm_texts(tmp_path, monkeypatch) -> Path:
    """``tmp_path`` holding ``train.txt`` (three sentences, three times) and ``valid.txt`` (one word
    unseen in training), with a corpus cache of its own: the language-model CLI tests' texts."""
    monkeypatch.setenv("LMKIT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "train.txt").write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 3)
    (tmp_path / "valid.txt").write_text("the cat sat on the log\nzebra dog\n")
    return tmp_path
