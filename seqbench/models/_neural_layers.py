"""Seeded randomness for neural modules: dropout, parameter initialisation, the runtime settings.

Every random draw of a seqbench network (initial weights, dropout masks, word
dropout) comes from ONE local ``torch.Generator`` that the estimator seeds
from its ``random_state``; torch's global generator is never seeded or read.
Hence three rules for module code:

- use :class:`Dropout` (here) instead of ``nn.Dropout``, and no ``dropout=``
  argument of ``nn.LSTM`` / ``nn.MultiheadAttention`` (they draw from the
  global generator; :func:`check_seeded` refuses them);
- a module that draws random numbers itself subclasses :class:`Stochastic`
  and passes ``self.generator`` to ``torch.rand`` and friends;
- initial weights are drawn by :func:`init_parameters` after construction;
  a module that wants a special initialisation defines
  ``init_weights(generator)``, called after the defaults.

:func:`torch_runtime` is the one place that sets torch's process-wide
settings for fitting and scoring (thread count, oneDNN) and restores them.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

from ..exceptions import ConfigError

__all__ = ["Stochastic", "Dropout", "set_generator", "init_parameters", "check_seeded", "torch_runtime",
           "resolve_device"]


class Stochastic(nn.Module):
    """A module that draws random numbers from ``self.generator`` (set by the training loop)."""

    generator = None  # torch.Generator or None (then torch's default generator, e.g. outside fit)


class Dropout(Stochastic):
    """Inverted dropout drawing its masks from the estimator's generator.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in ``[0, 1)``.
    """

    def __init__(self, p=0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


def set_generator(module, generator):
    """Give every :class:`Stochastic` submodule of ``module`` the generator (None to clear it)."""
    for m in module.modules():
        if isinstance(m, Stochastic):
            m.generator = generator


def check_seeded(module):
    """Refuse modules whose randomness would come from torch's global generator.

    Raises
    ------
    ConfigError
        Naming the offending submodule.
    """
    for name, m in module.named_modules():
        global_dropout = isinstance(m, nn.modules.dropout._DropoutNd) or (
            isinstance(m, (nn.RNNBase, nn.MultiheadAttention)) and float(getattr(m, "dropout", 0.0)) > 0)
        if global_dropout:
            raise ConfigError(
                f"submodule {name or type(module).__name__!r} ({type(m).__name__}) draws dropout masks from "
                f"torch's global generator; use seqbench.models._neural_layers.Dropout between layers instead")


def _uniform_(tensor, bound, generator):
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)


def init_parameters(module, generator, init_range=None):
    """Draw every parameter of ``module`` from ``generator`` (torch's default schemes).

    ``init_range=r`` instead draws every parameter but the layer norms' from
    ``U(-r, r)`` (Zaremba et al., 2014 use 0.1 for their small LSTM LM),
    without the families' own ``init_weights`` adjustments.

    Linear, convolution and recurrent weights and biases: ``U(-1/sqrt(fan), 1/sqrt(fan))``
    (``fan`` the input size of a layer, the hidden size of a recurrent layer);
    embeddings: ``N(0, 1)``; layer norms: ones and zeros. Any other
    parameter: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` when it has two or more
    dimensions (``fan_in`` = the product of all but the first), zeros
    otherwise. Then every submodule's ``init_weights(generator)``, if it
    defines one, runs (outermost first).
    """
    done = set()
    for m in module.modules():
        own = list(m.parameters(recurse=False))
        if isinstance(m, nn.RNNBase):
            for p in own:
                _uniform_(p, 1.0 / math.sqrt(m.hidden_size), generator)
        elif isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            fan = m.weight[0].numel()
            for p in own:
                _uniform_(p, 1.0 / math.sqrt(fan), generator)
        elif isinstance(m, nn.Embedding):
            with torch.no_grad():
                m.weight.normal_(0.0, 1.0, generator=generator)
        elif isinstance(m, nn.LayerNorm):
            with torch.no_grad():
                for p in own:
                    p.fill_(1.0 if p is m.weight else 0.0)
        else:
            for p in own:
                if id(p) in done:
                    continue
                if p.dim() >= 2:
                    _uniform_(p, 1.0 / math.sqrt(p[0].numel()), generator)
                else:
                    with torch.no_grad():
                        p.zero_()
        done.update(id(p) for p in own)
    if init_range is not None:
        norms = {id(p) for m in module.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
        for p in module.parameters():
            if id(p) not in norms:
                _uniform_(p, init_range, generator)
        return
    for m in module.modules():
        if hasattr(m, "init_weights"):
            m.init_weights(generator)


def resolve_device(device):
    """``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` -> a ``torch.device``.

    Raises
    ------
    ConfigError
        For another value, or CUDA asked for where it is not available.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'")
    return torch.device(device)


@contextmanager
def torch_runtime(n_threads, onednn=False):
    """Set torch's intra-op thread count and oneDNN switch for a fit or a scoring call; restore both.

    oneDNN is off by default: on CPU it re-plans its recurrent kernels for
    every new sequence shape (a first treebank epoch took 134 s instead of
    3.5 s), and ragged batches bring many shapes. One thread is the default
    because two made small-op loops stall whenever the other core was busy
    (an LSTM epoch 3.5 s to 304 s on a 2-core machine).

    Parameters
    ----------
    n_threads : int
    onednn : bool
    """
    threads_before = torch.get_num_threads()
    onednn_before = torch.backends.mkldnn.enabled
    torch.set_num_threads(int(n_threads))
    torch.backends.mkldnn.enabled = bool(onednn)
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = onednn_before
        torch.set_num_threads(threads_before)
