"""The callback interface: hook order, step and epoch numbering, stopping, checkpoint schema."""
from __future__ import annotations

import numpy as np
import pytest

from lm_reference import make_corpus, random_sentences, train_valid
from lmkit.io import load_model, save_model
from lmkit.lm.checkpoint import CHECKPOINT_KIND
from lmkit.lm.nplm import NPLM, NPLMConfig
from lmkit.training import Callback, Callbacks, TimeLimit, as_callback

SMALL = dict(context=3, features=8, hidden=16, batch_size=16, threads=1)


class Recorder(Callback):
    """Writes down every hook call as (hook, step, epoch)."""

    def __init__(self, every):
        self.every = every
        self.calls = []

    def on_train_begin(self, run):
        self.calls.append(("begin", run.step, run.epoch))

    def on_epoch_begin(self, run, epoch):
        self.calls.append(("epoch_begin", run.step, epoch))

    def on_gradients(self, run, record):
        self.calls.append(("gradients", record["step"], record["epoch"]))

    def on_step(self, run, record):
        assert run.step == record["step"]
        self.calls.append(("step", record["step"], record["epoch"]))

    def on_epoch_end(self, run, record):
        assert run.epoch == record["epoch"]
        self.calls.append(("epoch_end", run.step, record["epoch"]))

    def on_train_end(self, run):
        self.calls.append(("end", run.step, run.epoch))


def test_nplm_calls_hooks_in_order_with_lifetime_steps(tmp_path):
    train, valid = train_valid()
    recorder, epochs_seen = Recorder(every=3), []
    model = NPLM(NPLMConfig(**SMALL, epochs=2, patience=5)).fit(
        train, valid, output=tmp_path / "m.lmkit", verbose=False,
        callbacks=[recorder, lambda run, record: epochs_seen.append(record["epoch"])])
    steps_per_epoch = model.history[0]["step"]
    assert [r["step"] for r in model.history] == [steps_per_epoch, 2 * steps_per_epoch]
    expected = [("begin", 0, 0)]
    for epoch in (1, 2):
        expected.append(("epoch_begin", (epoch - 1) * steps_per_epoch, epoch))
        for step in range((epoch - 1) * steps_per_epoch + 1, epoch * steps_per_epoch + 1):
            if step % 3 == 0:
                expected += [("gradients", step, epoch), ("step", step, epoch)]
        expected.append(("epoch_end", epoch * steps_per_epoch, epoch))
    expected.append(("end", 2 * steps_per_epoch, 2))
    assert recorder.calls == expected
    assert epochs_seen == [1, 2]
    # a resumed run goes on with the checkpoint's step and epoch numbers
    resumed = Recorder(every=1)
    NPLM(NPLMConfig(**SMALL, epochs=3, patience=5)).fit(train, valid, output=tmp_path / "m.lmkit", resume=True,
                                                        verbose=False, callbacks=[resumed])
    assert resumed.calls[0] == ("begin", 2 * steps_per_epoch, 2)
    assert resumed.calls[2] == ("gradients", 2 * steps_per_epoch + 1, 3)
    assert resumed.calls[-1] == ("end", 3 * steps_per_epoch, 3)


def test_word2vec_reports_chunks_as_steps_and_every_epoch():
    from lmkit.word2vec.model import Word2Vec

    rng = np.random.default_rng(0)
    corpus = make_corpus(random_sentences(rng, 3000, 30, max_len=12), 31)
    recorder, records = Recorder(every=1), []
    model = Word2Vec(vector_size=8, min_count=1, epochs=2, workers=2).fit(
        corpus, verbose=False, callbacks=[recorder, lambda run, record: records.append(record)])
    steps = [c for c in recorder.calls if c[0] == "step"]
    assert [s[1] for s in steps] == list(range(1, len(steps) + 1))
    assert [r["epoch"] for r in records] == [1, 2]
    assert [r["train_loss"] for r in records] == model.losses
    assert not [c for c in recorder.calls if c[0] == "gradients"]  # Hogwild kernels show no gradients
    model.train(corpus, epochs=1, verbose=False, callbacks=[recorder])
    assert recorder.calls[-1] == ("end", model.steps, 3) and model.steps > len(steps)


def test_a_callback_can_stop_training_after_the_epoch():
    train, valid = train_valid()

    class StopAtOne(Callback):
        def on_epoch_end(self, run, record):
            run.request_stop("enough")

    model = NPLM(NPLMConfig(**SMALL, epochs=5, patience=5)).fit(train, valid, verbose=False, callbacks=[StopAtOne()])
    assert len(model.history) == 1


def test_time_limit_stops_after_the_epoch_that_crosses_it():
    train, valid = train_valid()
    model = NPLM(NPLMConfig(**SMALL, epochs=5, patience=5, time_limit=1e-9)).fit(train, valid, verbose=False)
    assert len(model.history) == 1
    assert TimeLimit(0).seconds == 0  # 0 = no limit: never stops
    callbacks = Callbacks([TimeLimit(0)])
    assert callbacks.due(1) == ()


def test_callbacks_must_be_callbacks_or_functions():
    with pytest.raises(TypeError, match="lmkit.training.Callback or a function"):
        as_callback(42)


def _first_checkpoint(tmp_path):
    train, valid = train_valid()
    NPLM(NPLMConfig(**SMALL, epochs=1)).fit(train, valid, output=tmp_path / "m.lmkit", verbose=False)
    return train, valid, tmp_path / "m.lmkit.ckpt"


def test_checkpoint_without_schema_field_resumes_and_unknown_schema_is_refused(tmp_path):
    train, valid, path = _first_checkpoint(tmp_path)
    arrays, meta = load_model(path, CHECKPOINT_KIND)
    assert meta["progress"]["schema"] == 1
    del meta["progress"]["schema"]  # as checkpoints written before the field existed
    for key in ("format", "format_version", "kind", "lmkit_version"):
        meta.pop(key, None)
    save_model(path, CHECKPOINT_KIND, arrays, meta)
    model = NPLM(NPLMConfig(**SMALL, epochs=2)).fit(train, valid, output=tmp_path / "m.lmkit", resume=True,
                                                    verbose=False)
    assert [r["epoch"] for r in model.history] == [1, 2]
    arrays, meta = load_model(path, CHECKPOINT_KIND)
    meta["progress"]["schema"] = 99
    for key in ("format", "format_version", "kind", "lmkit_version"):
        meta.pop(key, None)
    save_model(path, CHECKPOINT_KIND, arrays, meta)
    with pytest.raises(ValueError, match="schema 99 is not supported"):
        NPLM(NPLMConfig(**SMALL, epochs=3)).fit(train, valid, output=tmp_path / "m.lmkit", resume=True,
                                                verbose=False)


def test_word2vec_kernel_is_ready_before_training_begins():
    """The kernel is compiled (or loaded from the cache) before on_train_begin: no epoch pays for it."""
    from lmkit.word2vec import kernels
    from lmkit.word2vec.model import Word2Vec

    seen = []

    class Begin(Callback):
        def on_train_begin(self, run):
            seen.append(len(kernels.train_sentences.signatures))

    rng = np.random.default_rng(1)
    corpus = make_corpus(random_sentences(rng, 500, 30, max_len=12), 31)
    Word2Vec(vector_size=8, min_count=1, epochs=1).fit(corpus, verbose=False, callbacks=[Begin()])
    assert seen and seen[0] >= 1
