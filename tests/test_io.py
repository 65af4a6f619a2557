import json
import zipfile

import numpy as np
import pytest

from lmkit.io import atomic_write, load_model, save_model


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
