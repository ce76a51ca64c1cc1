"""Neural peer cases: seqbench's training loop against a bare PyTorch loop over the same module.

Data: character-LM batches from the seed (vocabulary 65, embedding 128,
hidden 256, batch 32 x 128 steps, 50 batches; ``quick``: embedding 64,
hidden 128, batch 16 x 64 steps, 10 batches), one thread. For RNN, LSTM, GRU
and the Transformer (d_model = embedding, 4 heads, 2 layers, context = steps):

- seqbench: ``fit`` for one epoch; the time is the loop's own training
  time (``history_[0]["tokens_per_s"]``: steps only, the network's
  construction and the data preparation left out);
- bare: a deep copy of a seqbench-built network, AdamW with the same
  weight-decay groups, the same gradient clipping and batches, the plain
  ``for`` loop one writes by hand, timed over its steps; once with
  oneDNN set as seqbench's loop sets it for these equal-length batches (on
  for the LSTM, off for the others: the loop's overhead alone) and once
  with the other setting (what the setting costs or gains).

Both are warmed up once (2 batches) untimed. ``flops`` counts the matrix
products only: forward ``2 x (gates x H x (E + H) + H x (V + 1))`` per
token for a recurrent layer, training 3x forward; for a Transformer
``6 x matmul parameters + 6 x layers x T x d`` (causal attention scores
and values) per token; GFLOP/s divided by the fp32 matmul peak of the
``machine-limits`` case gives the fraction of the physical limit. The
networks are trained from different states (the numbers are not compared);
``n_parameters`` shows they are the same network.
"""
from __future__ import annotations

import copy
import time

import numpy as np

from .peers import Contender, Measured, Prepared, case

FULL = {"vocab": 65, "embed": 128, "hidden": 256, "batch": 32, "steps": 128, "n_batches": 50}
QUICK = {"vocab": 65, "embed": 64, "hidden": 128, "batch": 16, "steps": 64, "n_batches": 10}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
FAMILIES = ("RNN", "LSTM", "GRU", "Transformer")


def estimator(family, size, n_epochs=1):
    """An unfitted seqbench estimator of ``family`` at ``size`` (one thread, no validation split)."""
    from .. import models

    cls = getattr(models, family)
    wanted = {"embedding_dim": size["embed"], "hidden_size": size["hidden"], "d_model": size["embed"],
              "n_heads": 4, "n_layers": 2 if family == "Transformer" else 1, "context": size["steps"]}
    names = cls().get_params()
    return cls(**{k: v for k, v in wanted.items() if k in names}, batch_size=size["batch"], max_epochs=n_epochs,
               valid_fraction=0.0, random_state=0, n_threads=1)


def char_batches(n_batches, size, seed):
    """``n_batches * batch`` random sequences of ``steps`` character ids."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, size["vocab"], size=size["steps"]) for _ in range(n_batches * size["batch"])]


def bare_loop(module, X, batch):
    """The hand-written loop over ``X`` (same optimiser groups and clipping); seconds of its steps."""
    import torch
    import torch.nn.functional as F

    decay = [p for p in module.parameters() if p.dim() >= 2]
    rest = [p for p in module.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3)
    data = torch.from_numpy(np.stack(X))                                      # (N, T)
    inputs = torch.cat([torch.full((len(X), 1), -1), data[:, :-1]], dim=1)   # (N, T), -1 = <bos>
    module.train()
    t0 = time.perf_counter()
    for i in range(0, len(X), batch):
        idx, tgt = inputs[i: i + batch], data[i: i + batch]
        logits = module(idx)[0]                                               # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
        opt.step()
    return time.perf_counter() - t0


def flops_per_token(family, module, size):
    """Training FLOPs per token of the matrix products (see the module doc)."""
    E, H, V, T = size["embed"], size["hidden"], size["vocab"], size["steps"]
    if family in GATES:
        return 3 * 2 * (GATES[family] * H * (E + H) + H * (V + 1))
    matmul = sum(p.numel() for n, p in module.named_parameters()
                 if p.dim() == 2 and "embed" not in n and "positions" not in n)
    return 6 * matmul + 6 * module.body.n_layers * T * E


def _neural_case(family):
    @case(f"neural-{family.lower()}", "neural", "train", "token",
          f"one training epoch of a {family} character language model")
    def setup(seed, quick):
        size = QUICK if quick else FULL
        X, warm = char_batches(size["n_batches"], size, seed), char_batches(2, size, seed + 1)
        n = len(X) * size["steps"]
        state = {}

        def prepare_ours():
            state["module"] = estimator(family, size).fit(warm).module_   # also the bare loop's network

        def ours():
            epoch = estimator(family, size).fit(X).history_[0]
            return Measured(epoch["tokens_seen"] / epoch["tokens_per_s"])     # the loop's training seconds

        def bare(data=X, onednn=False):
            from ..models._neural_layers import torch_runtime

            module = copy.deepcopy(state["module"])
            with torch_runtime(1, onednn=onednn):
                return Measured(bare_loop(module, data, size["batch"]))

        flops = lambda: flops_per_token(family, state["module"], size) * n  # noqa: E731
        n_params = lambda: {"n_parameters": sum(p.numel() for p in state["module"].parameters())}  # noqa: E731
        description = (f"random characters: vocabulary {size['vocab']}, embedding {size['embed']}, hidden "
                       f"{size['hidden']}, {size['n_batches']} batches of {size['batch']} x {size['steps']} steps")
        cls = type(estimator(family, size))
        same = bool(cls._onednn or cls._onednn_fixed_shape_fit)  # seqbench's setting for one-shape batches
        word = {True: "on", False: "off"}
        return Prepared(description, [
            Contender(f"seqbench {family}.fit (1 epoch)", "seqbench", ours, n, prepare=prepare_ours,
                      metrics=n_params, flops=flops),
            Contender("bare PyTorch loop (same module)", "torch", lambda: bare(onednn=same), n,
                      prepare=lambda: bare(warm, onednn=same), metrics=n_params, flops=flops,
                      note=f"oneDNN {word[same]}, as seqbench runs"),
            Contender(f"bare PyTorch loop, oneDNN {word[not same]}", "torch", lambda: bare(onednn=not same), n,
                      prepare=lambda: bare(warm, onednn=not same), metrics=n_params, flops=flops,
                      note="torch's CPU default" if not same else "oneDNN off"),
        ])
    return setup


for _family in FAMILIES:
    _neural_case(_family)
