"""scripts/bench_scale.py at a tiny size: every phase runs in its own process, the memory sampler sees
it and its children, and the table has its columns and one row per phase."""
import os

import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("bench_scale")


def table_rows(table):
    lines = table.splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return header, [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def test_sizes_parse_with_suffixes(script):
    assert [script.parse_size(s) for s in ("10M", "100m", "1B", "2_000", "1.5K")] == [10**7, 10**8, 10**9, 2000, 1500]
    assert [script.size_label(n) for n in (10**7, 10**9, 1500)] == ["10M", "1B", "1500"]


def test_the_sampler_sees_a_child_and_its_peak(script):
    import subprocess
    import sys

    # a child that holds 200 MB for a moment, under a parent that waits for it
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import time; b = bytearray(200 * 2**20); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(1)'])")
    process = subprocess.Popen([sys.executable, "-c", code])
    sampler = script.Sampler(process.pid, None)
    sampler.start()
    process.wait()
    sampler.stop()
    children = [pid for pid in sampler.hwm if pid != process.pid]
    assert len(children) == 1 and sampler.hwm[children[0]] > 200 * 2**20
    assert sampler.anon[children[0]] > 200 * 2**20 and sampler.tree_peak > 200 * 2**20


def test_a_tiny_run_gives_a_row_per_phase(script, tmp_path):
    rows = script.bench(tmp_path / "work", [20_000], threads=1, encode_workers=2, shards=3, log=lambda message: None)
    header, cells = table_rows(script.markdown(rows))
    assert header == list(script.COLUMNS)
    assert [row["phase"] for row in cells] == ["generate (3 gz files)", "encode (2 processes)",
                                               "SG-NS 1 epoch (1 threads)"]
    generate, encode, train = cells
    assert float(encode["seconds"]) > 0 and float(encode["M tokens/s"]) > 0
    assert int(encode["processes"]) >= 3  # the phase process and its 2 spawned encoders
    assert float(encode["largest child VmHWM MB"].replace(",", "")) > 10
    assert 20 < float(train["driver VmHWM MB"].replace(",", "")) < 4000
    assert float(encode["corpus MB"]) >= 0 and " / " in encode["cache MB (peak / end)"]
    assert generate["cache MB (peak / end)"] == "" and float(generate["seconds"]) > 0
    assert "vocab" in encode["notes"] and "loss" in train["notes"]
    assert not (tmp_path / "work" / "cache-20K-local").exists()  # caches are removed unless --keep-cache
    again = script.bench(tmp_path / "work", [20_000], threads=1, encode_workers=1, shards=3, keep_cache=True,
                         phases=("encode",), log=lambda message: None)
    assert [row.phase for row in again] == ["encode (1 processes)"]  # the corpus reused, training left out
    assert (tmp_path / "work" / "cache-20K-local").is_dir()
    train = script.bench(tmp_path / "work", [20_000], threads=1, shards=3, phases=("train",), log=lambda m: None)
    assert [row.phase for row in train] == ["SG-NS 1 epoch (1 threads)"]


def test_ray_encoding_and_training_rows(script, tmp_path, need_module):
    need_module("ray")
    rows = script.bench(tmp_path / "work", [20_000], ray=True, ray_train=True, threads=1, encode_workers=2, shards=3,
                        log=lambda message: None)
    _, cells = table_rows(script.markdown(rows))
    ray_train = [row for row in cells if row["phase"].startswith("SG-NS 1 epoch (ray")]
    assert [row["phase"] for row in ray_train] == ["SG-NS 1 epoch (ray, 2 workers x 1 thread, --sync-words 1,000,000)"]
    assert float(ray_train[0]["seconds"]) > 0 and "loss" in ray_train[0]["notes"]
    ray = [row for row in cells if row["phase"] == "encode (ray, 2 CPUs)"]
    assert len(ray) == 1 and int(ray[0]["processes"]) >= 4 and "ray start" in ray[0]["notes"]
    assert ray[0]["notes"].split("vocab ")[1].split(";")[0] == [row for row in cells if row["phase"].startswith(
        "encode (2")][0]["notes"].split("vocab ")[1].split(";")[0]


def test_the_workdir_must_be_outside_the_repository(script, capsys):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with pytest.raises(SystemExit):
        script.main(["--workdir", os.path.join(repo, "scratch"), "--sizes", "10K"])
    assert "inside the repository" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--workdir", "/tmp/x", "--phases", "encode,eval"])
    assert "--phases encode,eval: choose among encode,train" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main(["--workdir", "/tmp/x", "--sizes", "ten"])
    assert "--sizes: not a token count: 'ten'" in capsys.readouterr().err
