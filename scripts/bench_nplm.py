"""Benchmark: lmkit's NPLM beside the identical model in PyTorch (CPU), same batches, same threads.

For the MLP1 and MLP9 shapes of Bengio et al. (2003), Table 1, on Brown with
the paper's vocabulary rule, times

* training: forward, exact softmax cross-entropy, backward and an Adam step
  on minibatches of ``--batch-size`` examples (torch: ``nn.Embedding``,
  ``nn.Linear`` layers laid out like lmkit's -- the output layer fed
  ``[tanh(d + Hx) | x]`` --, ``F.cross_entropy``, ``torch.optim.Adam``);
* evaluation: exact log-probabilities of ``--eval-tokens`` predictions in
  lmkit's evaluation batches (torch: ``log_softmax`` + ``gather`` under
  ``no_grad``, same batches).

Both start from the same weights and see the same batches; the first-step
losses are printed side by side as a check that the models are the same.
Run under the team's lock::

    flock /tmp/lmkit-bench.lock .venv/bin/python scripts/bench_nplm.py --threads 2

torch is an optional peer (``pip install torch``); lmkit never imports it.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

SHAPES = {  # Bengio et al. (2003), Table 1: n, h, m, direct connections
    "MLP1": dict(context=4, hidden=50, features=60, direct=True),
    "MLP9": dict(context=4, hidden=100, features=30, direct=False),
}


def brown_examples(max_tokens: int):
    from lmkit.corpus.encoded import encode_corpus, encode_with_vocab
    from lmkit.lm.examples import build_examples

    full = encode_corpus("brown", min_count=4, unk="<unk>", verbose=False)
    train = encode_with_vocab("brown:train", full.vocab, full.tokenizer, verbose=False)
    contexts, targets = build_examples(train.ids, train.offsets, context=4, pad_id=len(full.vocab), eos_id=-1,
                                       boundaries="stream")
    return full.vocab, contexts[:max_tokens], targets[:max_tokens]


class TorchNPLM:
    """The same equations in torch, initialized from an lmkit model's arrays."""

    def __init__(self, torch, model):
        self.torch, cfg = torch, model.config
        self.C = torch.nn.Parameter(torch.from_numpy(model.C.copy()))
        self.O = torch.nn.Parameter(torch.from_numpy(model.O.copy()))
        self.b = torch.nn.Parameter(torch.from_numpy(model.b.copy()))
        self.params = [self.C, self.O, self.b]
        self.hidden, self.direct = cfg.hidden, cfg.direct
        if cfg.hidden:
            self.H = torch.nn.Parameter(torch.from_numpy(model.H.copy()))
            self.d = torch.nn.Parameter(torch.from_numpy(model.d.copy()))
            self.params += [self.H, self.d]

    def logits(self, contexts):
        torch = self.torch
        x = torch.nn.functional.embedding(contexts, self.C).reshape(contexts.shape[0], -1)
        parts = []
        if self.hidden:
            parts.append(torch.tanh(torch.nn.functional.linear(x, self.H, self.d)))
        if self.direct:
            parts.append(x)
        z = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return torch.nn.functional.linear(z, self.O, self.b)


def bench_shape(name, shape, vocab, contexts, targets, args, torch):
    from lmkit.lm.nplm import EVAL_ELEMENTS, NPLM, NPLMConfig
    from lmkit.lm.train import _Optimizers

    config = NPLMConfig(**shape, batch_size=args.batch_size, threads=args.threads)
    model = NPLM(config).build(vocab, rng=np.random.default_rng(0))
    peer = TorchNPLM(torch, model)
    optimizers = _Optimizers(model)
    torch_opt = torch.optim.Adam(peer.params, lr=config.lr)
    b, steps = args.batch_size, args.steps
    batches = [(contexts[i * b:(i + 1) * b], targets[i * b:(i + 1) * b]) for i in range(steps + args.warmup)]
    torch_batches = [(torch.from_numpy(c.astype(np.int64)), torch.from_numpy(t.astype(np.int64))) for c, t in batches]

    def lmkit_step(c, t):
        loss = model.forward_backward(c, t)
        optimizers.step(model)
        return loss

    def torch_step(c, t):
        torch_opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(peer.logits(c), t)
        loss.backward()
        torch_opt.step()
        return float(loss.detach())

    results = {}
    n_eval = args.eval_tokens
    ec, et = contexts[-n_eval:], targets[-n_eval:]
    model.score(ec[:2048], et[:2048])
    start = time.perf_counter()
    ours = model.score(ec, et)
    results["lmkit_eval"] = n_eval / (time.perf_counter() - start)
    tc, tt = torch.from_numpy(ec.astype(np.int64)), torch.from_numpy(et.astype(np.int64))
    with torch.no_grad():
        rows = max(64, min(4096, EVAL_ELEMENTS // len(vocab)))  # lmkit's evaluation batch

        def torch_score(c, t):
            return torch.cat([torch.log_softmax(peer.logits(c[i:i + rows]), dim=1)
                              .gather(1, t[i:i + rows, None])[:, 0] for i in range(0, len(t), rows)])
        torch_score(tc[:2048], tt[:2048])
        start = time.perf_counter()
        theirs = torch_score(tc, tt).double().numpy()
        results["torch_eval"] = n_eval / (time.perf_counter() - start)
    first = (lmkit_step(*batches[0]), torch_step(*torch_batches[0]))
    seconds = {"lmkit": 0.0, "torch": 0.0}
    for label, step, data in (("lmkit", lmkit_step, batches), ("torch", torch_step, torch_batches)):
        for c, t in data[1:args.warmup]:
            step(c, t)
    rounds = 3  # alternate the two libraries so that load from other processes hits both alike
    for r in range(rounds):
        part = slice(args.warmup + r * steps // rounds, args.warmup + (r + 1) * steps // rounds)
        for label, step, data in (("lmkit", lmkit_step, batches), ("torch", torch_step, torch_batches)):
            start = time.perf_counter()
            for c, t in data[part]:
                step(c, t)
            seconds[label] += time.perf_counter() - start
    results.update({label: steps * b / s for label, s in seconds.items()})

    gap = float(np.max(np.abs(ours - theirs)))
    print(f"{name}: first-step loss lmkit {first[0]:.5f} torch {first[1]:.5f}; "
          f"log-probabilities of the same weights: max |diff| {gap:.2e}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per library")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--eval-tokens", type=int, default=50_000)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    import torch

    from lmkit.lm.threads import set_threads

    torch.set_num_threads(args.threads)
    set_threads(args.threads)
    vocab, contexts, targets = brown_examples((args.steps + args.warmup) * args.batch_size + args.eval_tokens)
    print(f"Brown, Bengio vocabulary V={len(vocab)}, batch {args.batch_size}, {args.threads} threads, "
          f"torch {torch.__version__} (CPU), numpy {np.__version__}")
    rows = []
    for name in args.shapes:
        r = bench_shape(name, SHAPES[name], vocab, contexts, targets, args, torch)
        rows.append((name, r))
    print(f"\n{'shape':6} {'train lmkit':>12} {'train torch':>12} {'ratio':>6}   "
          f"{'eval lmkit':>11} {'eval torch':>11} {'ratio':>6}   (tokens/s)")
    for name, r in rows:
        print(f"{name:6} {r['lmkit']:12.0f} {r['torch']:12.0f} {r['lmkit'] / r['torch']:6.2f}   "
              f"{r['lmkit_eval']:11.0f} {r['torch_eval']:11.0f} {r['lmkit_eval'] / r['torch_eval']:6.2f}")


if __name__ == "__main__":
    main()
