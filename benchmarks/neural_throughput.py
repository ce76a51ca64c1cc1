"""Training throughput of the neural families against a bare PyTorch loop over the same module.

Run: ``.venv/bin/python benchmarks/neural_throughput.py [--batches 50] [--repeats 3] [--device cpu]``

A character language-model batch (vocabulary 65, embedding 128, hidden 256,
batch 32 x 128 steps) on one thread. For RNN, LSTM, GRU (and the Transformer
when ``seqbench.models.attention`` provides one), interleaved ``--repeats``
times:

- seqbench: ``fit`` for one epoch of ``--batches`` batches; throughput is the
  loop's own ``history_[0]["tokens_per_s"]`` (training steps only, the
  network's construction and the data preparation left out);
- bare: the same network (a copy of the fitted module), AdamW with the same
  weight-decay groups, the same gradient clipping, the same batches, written
  as the plain ``for`` loop one would write by hand.

Medians are reported, with seqbench's overhead (bare / seqbench - 1; the
target is <= 10%) and the achieved GFLOP/s as a fraction of this machine's
fp32 matmul peak, measured in the same run with a 2048 x 2048 ``torch.mm``
on the same thread count. FLOPs count the matrix products only:
forward ``2 x (recurrent weights + output weights)`` per token for a
recurrent layer (``gates x H x (E + H)`` and ``H x (V + 1)``), training 3x
forward; for a Transformer ``6 x matmul parameters + 6 x layers x T x d``
(causal attention scores and values) per token.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from seqbench.models import GRU, LSTM, RNN
from seqbench.models._neural_layers import torch_runtime

VOCAB, EMBED, HIDDEN, BATCH, STEPS = 65, 128, 256, 32, 128
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def families():
    out = [("RNN", RNN, {}), ("LSTM", LSTM, {}), ("GRU", GRU, {})]
    if importlib.util.find_spec("seqbench.models.attention") is not None:
        from seqbench.models import attention

        cls = getattr(attention, "Transformer", None)
        if cls is not None:
            wanted = {"embedding_dim": EMBED, "d_model": EMBED, "n_heads": 4, "n_layers": 2,
                      "hidden_size": HIDDEN, "context": STEPS}
            names = cls().get_params()
            out.append(("Transformer", cls, {k: v for k, v in wanted.items() if k in names}))
    return out


def make_data(n_batches, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, VOCAB, size=STEPS) for _ in range(n_batches * BATCH)]


def seqbench_fit(cls, extra, X, device):
    params = {"embedding_dim": EMBED, "hidden_size": HIDDEN, **extra}
    names = cls().get_params()
    est = cls(**{k: v for k, v in params.items() if k in names}, batch_size=BATCH, max_epochs=1,
              valid_fraction=0.0, random_state=0, device=device, n_threads=1)
    est.fit(X)
    return est, est.history_[0]["tokens_per_s"]


def bare_loop(module, X, device):
    """The hand-written loop: same module, optimiser groups, clipping and batches."""
    decay = [p for p in module.parameters() if p.dim() >= 2]
    rest = [p for p in module.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3)
    data = torch.from_numpy(np.stack(X)).to(device)                      # (N, T)
    inputs = torch.cat([torch.full((len(X), 1), -1, device=device), data[:, :-1]], dim=1)
    module.train()
    t0 = time.perf_counter()
    for i in range(0, len(X), BATCH):
        idx, tgt = inputs[i: i + BATCH], data[i: i + BATCH]
        logits = module(idx)[0]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
    if device != "cpu":
        torch.cuda.synchronize()
    return data.numel() / (time.perf_counter() - t0)


def matmul_peak(device, n=2048, repeats=5):
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def flops_per_token(name, module):
    if name in GATES:
        forward = 2 * (GATES[name] * HIDDEN * (EMBED + HIDDEN) + HIDDEN * (VOCAB + 1))
        return 3 * forward
    matmul = sum(p.numel() for n, p in module.named_parameters()
                 if p.dim() == 2 and "embed" not in n and "positions" not in n)
    layers = module.body.n_layers
    return 6 * matmul + 6 * layers * STEPS * EMBED


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    X = make_data(args.batches)
    warm = make_data(2, seed=1)
    print(f"char-LM batch: vocab {VOCAB}, embedding {EMBED}, hidden {HIDDEN}, batch {BATCH} x {STEPS} steps, "
          f"{args.batches} batches per run, {args.repeats} interleaved repeats, 1 thread, {args.device}")
    with torch_runtime(1):
        peak = matmul_peak(args.device)
        print(f"fp32 matmul peak (2048^2 torch.mm, best of 5): {peak:.1f} GFLOP/s\n")
        print(f"{'family':<12}{'seqbench tok/s':>16}{'bare tok/s':>12}{'overhead':>10}{'GFLOP/s':>9}{'of peak':>9}")
        for name, cls, extra in families():
            est, _ = seqbench_fit(cls, extra, warm, args.device)                  # warm-up
            bare_loop(copy.deepcopy(est.module_), warm, args.device)
            ours, bare = [], []
            for _ in range(args.repeats):
                est, tps = seqbench_fit(cls, extra, X, args.device)
                ours.append(tps)
                with torch_runtime(1):
                    bare.append(bare_loop(copy.deepcopy(est.module_), X, args.device))
            o, b = statistics.median(ours), statistics.median(bare)
            gflops = o * flops_per_token(name, est.module_) / 1e9
            print(f"{name:<12}{o:>16,.0f}{b:>12,.0f}{b / o - 1:>+10.1%}{gflops:>9.1f}{gflops / peak:>9.0%}")


if __name__ == "__main__":
    main()
