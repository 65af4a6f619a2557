"""Benchmark: lmkit's NPLM beside the identical model in PyTorch (CPU), same batches, same threads.

For the MLP1 and MLP9 shapes of Bengio et al. (2003), Table 1, and the
reproduction script's default (n=5, h=200, m=60, no direct), on Brown with
the paper's vocabulary rule, times

* training: forward, exact softmax cross-entropy, backward and an Adam step
  on minibatches of ``--batch-size`` examples (torch: ``nn.Embedding``,
  ``nn.Linear`` layers laid out like lmkit's -- the output layer fed
  ``[tanh(d + Hx) | x]`` --, ``F.cross_entropy``, ``torch.optim.Adam``);
* sampled-softmax training (``--sampled-words`` draws, lmkit's
  :class:`~lmkit.lm.sampled.CandidateSampler`; both libraries get the same
  candidate sets): torch indexes the candidates' rows of the output layer,
  ``F.cross_entropy`` over them with the same logit corrections, Adam;
* evaluation: exact log-probabilities of ``--eval-tokens`` predictions in
  lmkit's evaluation batches (torch: ``log_softmax`` + ``gather`` under
  ``no_grad``, same batches).

Both start from the same weights and see the same batches; the first-step
losses are printed side by side as a check that the models are the same.
Each rate is also given in GFLOP/s of the dense products (2 flops a
multiply-add; the output and hidden layers: three products each when training
with the exact softmax, one when evaluating), beside a ceiling: OpenBLAS's
rate on float32 products of an in-cache size (256 x 256 x 256), one per
thread on ``--threads`` threads.  A step cannot run its products faster than
that, so ``ceiling / torch's rate`` bounds how many times faster than torch
any implementation of the same products can be on this machine.
Run under the team's lock::

    flock /tmp/lmkit-bench.lock .venv/bin/python scripts/bench_nplm.py --threads 2

torch is an optional peer (``pip install torch``); lmkit never imports it.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

SHAPES = {  # Bengio et al. (2003), Table 1: n, h, m, direct connections; and the reproduction's default
    "MLP1": dict(context=4, hidden=50, features=60, direct=True),
    "MLP9": dict(context=4, hidden=100, features=30, direct=False),
    "repro": dict(context=4, hidden=200, features=60, direct=False),
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

    def output_input(self, contexts):
        """``z = [tanh(d + Hx) | x]``, the output layer's input."""
        torch = self.torch
        x = torch.nn.functional.embedding(contexts, self.C).reshape(contexts.shape[0], -1)
        parts = []
        if self.hidden:
            parts.append(torch.tanh(torch.nn.functional.linear(x, self.H, self.d)))
        if self.direct:
            parts.append(x)
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def logits(self, contexts):
        return self.torch.nn.functional.linear(self.output_input(contexts), self.O, self.b)

    def sampled_logits(self, contexts, candidates, correction):
        """Logits of the candidate words only, lowered by ``correction`` (lmkit.lm.sampled)."""
        return self.torch.nn.functional.linear(self.output_input(contexts), self.O[candidates],
                                               self.b[candidates] - correction)


def product_gflop(shape: dict, vocab_size: int) -> float:
    """GFLOP of one prediction's dense products, forward only: the output layer (``n_inputs x V``
    multiply-adds) and the hidden layer (``h x k*m``).  An exact training step does three times this
    (forward, ``dL/dz`` and ``dL/dO``; likewise for ``H``)."""
    inputs = shape["context"] * shape["features"]
    n_inputs = shape["hidden"] + (inputs if shape["direct"] else 0)
    return 2.0 * (n_inputs * vocab_size + shape["hidden"] * inputs) / 1e9


def gemm_ceiling(threads: int, seconds: float = 1.0) -> float:
    """GFLOP/s of in-cache float32 products (256 x 256 x 256), one stream per thread, BLAS on one thread
    in each (as lmkit's row threads run it): the best of repeated tries over ``seconds``."""
    from lmkit.threads import run_parts, single_threaded_blas

    size, repeats = 256, 40
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    outs = [np.empty_like(a) for _ in range(threads)]

    def products(part: int) -> None:
        for _ in range(repeats):
            np.matmul(a, a, out=outs[part])

    best = 0.0
    with single_threaded_blas():
        products(0)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            run_parts(threads, products)
            best = max(best, threads * repeats * 2 * size**3 / 1e9 / (time.perf_counter() - start))
    return best


def bench_shape(name, shape, vocab, contexts, targets, args, torch):
    from lmkit.lm.nplm import EVAL_ELEMENTS, NPLM, NPLMConfig
    from lmkit.lm.sampled import CandidateSampler
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

    sampler = CandidateSampler(np.bincount(targets, minlength=len(vocab)), b, args.sampled_words)
    draw_rng = np.random.default_rng(1)
    sampled_batches = [(c, *sampler.draw(t, draw_rng)) for c, t in batches]
    torch_sampled_batches = [(tc, torch.from_numpy(cand), torch.from_numpy(pos.astype(np.int64)),
                              torch.from_numpy(corr)) for (tc, _), (_, cand, pos, corr)
                             in zip(torch_batches, sampled_batches)]

    def lmkit_sampled_step(c, candidates, positions, correction):
        loss = model.forward_backward_sampled(c, candidates, positions, correction)
        optimizers.step(model)
        return loss

    def torch_sampled_step(c, candidates, positions, correction):
        torch_opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(peer.sampled_logits(c, candidates, correction), positions)
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
    first_sampled = (lmkit_sampled_step(*sampled_batches[0]), torch_sampled_step(*torch_sampled_batches[0]))
    contenders = {"lmkit": (lmkit_step, batches), "torch": (torch_step, torch_batches),
                  "lmkit_sampled": (lmkit_sampled_step, sampled_batches),
                  "torch_sampled": (torch_sampled_step, torch_sampled_batches)}
    seconds = dict.fromkeys(contenders, 0.0)
    for step, data in contenders.values():
        for batch in data[1:args.warmup]:
            step(*batch)
    rounds = 3  # alternate the libraries so that load from other processes hits all alike
    for r in range(rounds):
        part = slice(args.warmup + r * steps // rounds, args.warmup + (r + 1) * steps // rounds)
        for label, (step, data) in contenders.items():
            start = time.perf_counter()
            for batch in data[part]:
                step(*batch)
            seconds[label] += time.perf_counter() - start
    results.update({label: steps * b / s for label, s in seconds.items()})

    gap = float(np.max(np.abs(ours - theirs)))
    print(f"{name}: first-step loss lmkit {first[0]:.5f} torch {first[1]:.5f}, sampled softmax "
          f"{first_sampled[0]:.5f} / {first_sampled[1]:.5f}; log-probabilities of the same weights: "
          f"max |diff| {gap:.2e}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60, help="timed training steps per library")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--eval-tokens", type=int, default=50_000)
    parser.add_argument("--sampled-words", type=int, default=2048, help="draws a batch of the sampled softmax")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    args = parser.parse_args()
    import torch

    from lmkit.threads import set_threads

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
          f"{'sampled lmkit':>13} {'sampled torch':>13} {'ratio':>6}   "
          f"{'eval lmkit':>11} {'eval torch':>11} {'ratio':>6}   (tokens/s)")
    for name, r in rows:
        print(f"{name:6} {r['lmkit']:12.0f} {r['torch']:12.0f} {r['lmkit'] / r['torch']:6.2f}   "
              f"{r['lmkit_sampled']:13.0f} {r['torch_sampled']:13.0f} {r['lmkit_sampled'] / r['torch_sampled']:6.2f}   "
              f"{r['lmkit_eval']:11.0f} {r['torch_eval']:11.0f} {r['lmkit_eval'] / r['torch_eval']:6.2f}")
    ceiling = gemm_ceiling(args.threads)
    print(f"\nDense products in GFLOP/s; the ceiling (in-cache float32 products, {args.threads} threads): "
          f"{ceiling:.0f}.  'bound': ceiling / torch, the most times faster than torch any code can be")
    print(f"{'shape':6} {'train lmkit':>12} {'train torch':>12} {'bound':>6}   "
          f"{'eval lmkit':>11} {'eval torch':>11} {'bound':>6}")
    for name, r in rows:
        gflop = product_gflop(SHAPES[name], len(vocab))
        train, train_torch = 3 * gflop * r["lmkit"], 3 * gflop * r["torch"]
        evaluate, evaluate_torch = gflop * r["lmkit_eval"], gflop * r["torch_eval"]
        print(f"{name:6} {train:12.1f} {train_torch:12.1f} {ceiling / train_torch:6.2f}   "
              f"{evaluate:11.1f} {evaluate_torch:11.1f} {ceiling / evaluate_torch:6.2f}")


if __name__ == "__main__":
    main()
