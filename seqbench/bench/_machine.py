"""The machine's physical limits for the neural rows: fp32 matmul peak and memory bandwidth, one thread.

Both are contenders of the case ``machine-limits`` (library ``"machine"``),
timed with the rest of the run. The peak is taken from the fastest repeat
(``seconds_min``): a limit, not a typical speed.

- fp32 matmul: ``torch.mm`` of two ``n x n`` float32 matrices, ``2 n^3``
  FLOPs (n = 2048; 1024 with ``quick``);
- memory bandwidth: ``np.copyto`` of a float64 array of 512 MiB (64 MiB
  with ``quick``), counted as ``2 x nbytes`` (read and write), the STREAM
  ``copy`` convention.
"""
from __future__ import annotations

import numpy as np

from .peers import Contender, Prepared, case


def matmul_contender(n):
    """A contender timing one ``n x n`` fp32 ``torch.mm``; its items are FLOPs."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    return Contender(f"fp32 matmul peak (torch.mm {n}x{n})", "machine", lambda: torch.mm(a, b),
                     n_items=2 * n ** 3, prepare=lambda: torch.mm(a, b), unit="FLOP")


def copy_contender(nbytes):
    """A contender timing one copy of ``nbytes`` (float64); its items are bytes moved (read + write)."""
    src = np.random.default_rng(0).random(nbytes // 8)
    dst = np.empty_like(src)
    return Contender(f"memory bandwidth (numpy copy, {nbytes / 2**20:.0f} MiB)", "machine",
                     lambda: np.copyto(dst, src), n_items=2 * src.nbytes, prepare=lambda: np.copyto(dst, src),
                     unit="byte")


@case("machine-limits", "machine", "limit", "FLOP",
      "fp32 matmul peak (GFLOP/s) and memory bandwidth (GB/s) on one thread")
def _limits(seed, quick):
    matmul = matmul_contender(1024 if quick else 2048)
    copy = copy_contender((64 if quick else 512) * 2**20)
    return Prepared("machine", [matmul, copy])
