"""word2vec on Ray (lmkit.word2vec.distributed): averaging, the global schedule, restarts, the CLI's checks.

One small local Ray cluster (2 CPUs, a 300 MB object store) serves the
module; without the ``ray`` extra those tests skip saying so (and fail under
``LMKIT_REQUIRE_DATA=1``).  The checks are against independent references:
the numpy mean of the fetched replicas, the schedule's formula over the words
each round reports, and the single-process trainer.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from lmkit.cli import main
from lmkit.word2vec.model import Word2Vec
from planted import separation, topic_corpus

SMALL = dict(vector_size=16, window=3, min_count=1, sample=0.0, negative=3, epochs=3, workers=1)


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    return topic_corpus(tmp_path_factory.mktemp("w2v-ray") / "topics.txt", 600)


def _ray_model(**options) -> Word2Vec:
    return Word2Vec(**{**SMALL, "cluster": "local", "replicas": 2, "sync_words": 1000, **options})


def _kill_first_replica_once(ray):
    """A callback that, on the first step, kills the first Ray replica's process (as a crash would)."""
    from lmkit.training.callbacks import Callback
    from lmkit.word2vec.distributed import ACTOR_PREFIX

    class Kill(Callback):
        every = 1
        killed: list[int] = []

        def on_step(self, run, record):
            if not self.killed:
                name = min(n for n in ray.util.list_named_actors() if n.startswith(ACTOR_PREFIX))
                pid = ray.get(ray.get_actor(name).pid.remote())
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)

    return Kill()


def test_two_replicas_learn_the_topics(ray_local, topics):
    model = _ray_model(epochs=5).fit(topics, verbose=False)
    assert separation(model) > 0.3
    epoch = model.history[-1]
    # shares of ~2400 tokens in rounds of 1000: 3 syncs an epoch, 2 x (syn0 + syn1neg) each way per replica
    assert epoch.syncs == 3
    per_sync = 2 * (2 * len(model.vocab) * 16 * 4) * 2
    assert epoch.sync_bytes == 3 * per_sync
    assert epoch.sync_seconds > 0


def test_one_replica_is_the_single_process_model(ray_local, topics):
    alone = Word2Vec(**SMALL, seed=3).fit(topics, verbose=False)
    on_ray = Word2Vec(**SMALL, seed=3, cluster="local", replicas=1, sync_words=700).fit(topics, verbose=False)
    np.testing.assert_array_equal(on_ray.syn0, alone.syn0)
    np.testing.assert_array_equal(on_ray.syn1neg, alone.syn1neg)


def test_a_fixed_seed_gives_the_same_model_twice(ray_local, topics):
    first, second = (_ray_model(seed=5).fit(topics, verbose=False) for _ in range(2))
    np.testing.assert_array_equal(first.syn0, second.syn0)


def test_after_a_sync_every_replica_is_the_mean_of_the_replicas_before(ray_local, topics):
    model = _ray_model(loss="both").fit(topics, verbose=False)   # syn1 (HS) is averaged too
    trainer = model.replica_trainer(topics, epochs=1)
    try:
        trainer.begin_epoch(0)
        trainer.train_round()
        before = trainer.replica_weights()
        assert not np.array_equal(before[0][0], before[1][0])  # the replicas trained apart
        trainer.sync()
        after = trainer.replica_weights()
        for m, name in enumerate(("syn0", "syn1", "syn1neg")):
            mean = np.mean([before[0][m], before[1][m]], axis=0)
            for k in (0, 1):
                np.testing.assert_allclose(after[k][m], mean, rtol=1e-6, atol=1e-7, err_msg=f"{name} of {k}")
            np.testing.assert_allclose(getattr(model, name), mean, rtol=1e-6, atol=1e-7)
    finally:
        trainer.close()


def test_the_learning_rate_follows_the_words_of_all_replicas(ray_local, topics):
    model = _ray_model(alpha=0.04, min_alpha=0.001).fit(topics, verbose=False)
    epochs = 2
    trainer = model.replica_trainer(topics, epochs=epochs)
    total = epochs * 600 * 8
    words, seen = 0, []
    try:
        for epoch in range(epochs):
            trainer.begin_epoch(epoch)
            while not trainer.epoch_done:
                results = trainer.train_round()
                for result in results.values():
                    # every replica's words, not its own; 2 replicas train at twice the rate (linear scaling)
                    expected = 2 * (0.04 - (0.04 - 0.001) * words / total)
                    seen.append((result["lr_start"], expected))
                words += sum(result["words"] for result in results.values())
                trainer.sync()
    finally:
        trainer.close()
    assert words == total and len(seen) >= 8
    lrs, expected = np.array(seen).T
    np.testing.assert_allclose(lrs, expected, rtol=1e-9)
    assert expected[-1] < 0.6 * 2 * 0.04


def test_a_killed_worker_is_restarted_and_the_run_completes(ray_local, topics, caplog):
    clean = _ray_model(seed=7).fit(topics, verbose=False)
    kill = _kill_first_replica_once(ray_local)
    model = _ray_model(seed=7, max_restarts=1).fit(topics, verbose=False, callbacks=[kill])
    assert len(kill.killed) == 1 and "restarting it from the last averaged weights" in caplog.text
    assert len(model.history) == 3
    # restarted at the last sync's weights, position and random state, its round replayed: the same model
    np.testing.assert_array_equal(model.syn0, clean.syn0)


def test_a_hung_worker_is_restarted_after_the_timeout_and_its_round_is_the_same(ray_local, topics, caplog):
    def first_round(hang: bool, **options):
        model = _ray_model(seed=9).fit(topics, verbose=False)  # a fresh model: the same weights and RNG plan
        trainer = model.replica_trainer(topics, epochs=1, **options)
        try:
            trainer.begin_epoch(0)
            if hang:  # replica 0 stops answering, as a process stuck in I/O or a deadlock would
                os.kill(trainer.pids[0], signal.SIGSTOP)
            trainer.train_round()
            return trainer.replica_weights(), trainer.restarts
        finally:
            trainer.close()

    clean, no_restarts = first_round(hang=False)
    hung, restarts = first_round(hang=True, timeout_s=15.0)
    assert (no_restarts, restarts) == (0, 1) and "did not answer in 15 s: restarting it" in caplog.text
    for k in (0, 1):  # the stopped replica's round was trained again by its replacement, from the same state
        for mine, reference in zip(hung[k], clean[k]):
            np.testing.assert_array_equal(mine, reference)


def test_too_many_deaths_stop_with_one_line_and_the_last_average_saved(ray_local, topics, tmp_path):
    kill = _kill_first_replica_once(ray_local)
    model = _ray_model(max_restarts=0)
    rescue = tmp_path / "rescued.npz"
    with pytest.raises(RuntimeError) as caught:
        model.fit(topics, verbose=False, callbacks=[kill], rescue_path=rescue)
    message = str(caught.value)
    assert "\n" not in message
    assert f"worker 0 (pid {kill.killed[0]}) died" in message and str(rescue) in message
    saved = Word2Vec.load(rescue)
    np.testing.assert_array_equal(saved.syn0, model.syn0)  # the model in memory: the last average too


def test_a_replica_s_divergence_is_the_trainer_s_error_not_ray_s(ray_local, topics):
    from lmkit.word2vec.training import TrainingDivergedError

    with pytest.raises(TrainingDivergedError, match="lower alpha"):
        _ray_model(alpha=1e38).fit(topics, verbose=False)


# ----------------------------------------------------------------------------- the command line, Ray or not


@pytest.mark.parametrize("flags, named", [
    (["--workers", "0"], "--workers"), (["--sync-words", "0"], "--sync-words"),
    (["--cluster", "nowhere"], "--cluster"), (["--max-restarts", "-1"], "--max-restarts"),
])
def test_bad_flags_are_one_line_errors_before_any_work(tmp_path, capsys, flags, named):
    code = main(["train", "skipgram", "--input", str(tmp_path / "absent.txt"), "--output", str(tmp_path / "v.txt"),
                 *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and named in err and "absent.txt" not in err, err


def test_more_workers_than_cpus_is_a_one_line_error_naming_the_flags(ray_local, topics, tmp_path, capsys):
    code = main(["train", "skipgram", "--input", str(topics), "--output", str(tmp_path / "v.txt"), "--min-count", "1",
                 "--workers", "2", "--threads", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "lmkit: error: --workers 2 x --threads 2 (threads each) needs 4 CPUs; the Ray cluster has 2"


def test_without_ray_the_error_says_what_to_install(tmp_path, capsys, monkeypatch, topics):
    from lmkit._extras import MissingExtra
    from lmkit.cluster import connect

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(MissingExtra, match=r"pip install 'lmkit\[ray\]'"):
        connect("local", 2)
    code = main(["train", "skipgram", "--input", str(topics), "--output", str(tmp_path / "v.txt"), "--workers", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "lmkit: error: --cluster auto --workers 2 needs ray: pip install 'lmkit[ray]'"


@pytest.fixture
def ray_head(need_module):
    """A second Ray cluster, started as a user would (``ray start --head``) in its own process group: the
    address HOST:PORT of its GCS.  Stopped by signalling that group (``ray stop`` would stop every Ray of
    the machine, the session's ``ray_local`` too); its own temp folder keeps its address file
    (``ray_current_cluster``) away from /tmp/ray, where a later ``ray.init()`` would try to join it."""
    need_module("ray")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp_dir = tempfile.mkdtemp(prefix="ray-head-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    output = tempfile.TemporaryFile("w+")  # not a pipe: nobody reads it while the head runs
    head = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ray"), "start", "--head", "--block",
                             "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp_dir],
                            stdout=subprocess.DEVNULL, stderr=output, text=True, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # the GCS answers on its port once the head is up
            if head.poll() is not None:
                output.seek(0)
                pytest.fail(f"ray start --head exited {head.returncode}: {output.read()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("ray start --head: no GCS on its port after 60 s")
                time.sleep(0.5)
        yield address
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:  # `ray start --block` may linger after its children have gone
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        output.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_command_joins_a_running_cluster_by_address_and_trains_the_same_model(ray_head, ray_local, topics,
                                                                                tmp_path):
    flags = ["train", "skipgram", "--input", str(topics), "--min-count", "1", "--size", "16", "--window", "3",
             "--negative", "3", "--sample", "0", "--epochs", "2", "--workers", "2", "--threads", "1",
             "--sync-words", "1000", "--seed", "7"]
    joined = subprocess.run([sys.executable, "-m", "lmkit", *flags, "--output", str(tmp_path / "joined.txt"),
                             "--cluster", ray_head], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "RAY_ADDRESS": ""})
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert f"joined the Ray cluster at {ray_head}" in joined.stderr
    assert main([*flags, "--output", str(tmp_path / "here.txt"), "--cluster", "local", "--quiet"]) == 0
    # one thread per replica and a fixed seed: the cluster reached by address trains the same model bit for bit
    assert (tmp_path / "joined.txt").read_text() == (tmp_path / "here.txt").read_text()
