import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lmkit.io import _HOST, atomic_write, load_model, save_model


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as handle:
            handle.write("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_write(path, "w") as handle:
        handle.write("new")
    assert path.read_text() == "new"


def test_model_round_trip_keeps_arrays_bit_exact(tmp_path):
    arrays = {"weights": np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
              "ids": np.arange(5, dtype=np.int32)}
    save_model(tmp_path / "m.npz", "toy", arrays, {"config": {"size": 4}, "words": ["é", "日本"]})
    loaded, meta = load_model(tmp_path / "m.npz", kind="toy")
    assert meta["config"] == {"size": 4} and meta["words"] == ["é", "日本"] and meta["format_version"] == 1
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array)


def test_load_refuses_bad_files_with_their_name(tmp_path):
    save_model(tmp_path / "m.npz", "toy", {"w": np.zeros(1000, dtype=np.float32)}, {})
    with pytest.raises(ValueError, match="holds a 'toy' model, expected 'nplm'"):
        load_model(tmp_path / "m.npz", kind="nplm")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz: corrupt or truncated"):
        load_model(tmp_path / "cut.npz")
    np.savez(tmp_path / "plain.npz", w=np.zeros(2))
    with pytest.raises(ValueError, match="not an lmkit model"):
        load_model(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_model(tmp_path / "absent.npz")


def test_other_format_version_is_refused(tmp_path):
    document = {"format": "lmkit-model", "format_version": 2, "kind": "toy"}
    payload = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    np.savez(tmp_path / "future.npz", __lmkit__=payload)
    with pytest.raises(ValueError, match="format version 2 is not supported"):
        load_model(tmp_path / "future.npz")


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    save_model(tmp_path / "m.npz", "toy", {}, {})
    with zipfile.ZipFile(tmp_path / "m.npz", "a") as archive:
        with archive.open("evil.npy", "w") as handle:
            np.lib.format.write_array(handle, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_model(tmp_path / "m.npz")


def test_reserved_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save_model(tmp_path / "m.npz", "toy", {"__lmkit__": np.zeros(1)}, {})


def test_atomic_write_respects_the_umask_and_keeps_an_existing_mode(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
    existing = tmp_path / "shared.txt"
    existing.write_text("old")
    existing.chmod(0o664)
    with atomic_write(existing, "w") as handle:
        handle.write("new")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o664 and existing.read_text() == "new"


def test_atomic_write_writes_through_a_symlink(tmp_path):
    target = tmp_path / "real" / "vectors.txt"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.txt"
    link.symlink_to(target)
    with atomic_write(link, "w") as handle:
        handle.write("new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.txt"]


def test_stale_temp_files_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".out.bin.lmkit-{dead.pid}@{_HOST}.abcd1234.tmp"
    live = tmp_path / f".out.bin.lmkit-{os.getppid()}@{_HOST}.efgh5678.tmp"
    foreign = tmp_path / ".out.bin.mine.tmp"  # not lmkit's pattern: never touched
    other_host = tmp_path / f".out.bin.lmkit-{dead.pid}@elsewhere.ijkl9012.tmp"
    for file in (stale, live, foreign, other_host):
        file.write_bytes(b"partial")
    with atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"done")
    assert not stale.exists()
    assert live.exists() and foreign.exists() and other_host.exists()
    os.utime(other_host, (0, 0))  # untouched for decades: abandoned
    with atomic_write(tmp_path / "out.bin") as handle:
        handle.write(b"again")
    assert not other_host.exists() and live.exists() and foreign.exists()


def test_a_failed_write_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    with pytest.raises(OSError) as caught:
        with atomic_write(path) as handle:
            raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(path) and caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_the_temp_file_of_a_writer_killed_mid_write_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "vectors.txt"
    code = ("import os, signal, sys; from lmkit.io import atomic_write\n"
            "with atomic_write(sys.argv[1], 'w') as handle:\n"
            "    handle.write('half'); handle.flush(); os.kill(os.getpid(), signal.SIGKILL)\n")
    repository = Path(__file__).resolve().parents[1]  # the lmkit under test, not an installed one
    killed = subprocess.run([sys.executable, "-c", code, str(path)], cwd=repository)
    assert killed.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".vectors.txt.lmkit-")
    with atomic_write(path, "w") as handle:
        handle.write("whole")
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.txt"] and path.read_text() == "whole"
