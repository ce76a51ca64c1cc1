"""The one training loop of every neural family.

:func:`train` owns everything between a network and its data: the optimiser
(AdamW, or plain SGD for the Zaremba configuration), the learning-rate
schedule, gradient clipping, truncated backpropagation through time (the
recurrent state is carried, detached, from window to window of a chunk; see
:mod:`._neural_batches`), early stopping on a validation split with the best
weights kept, the budgets (epochs, tokens, seconds) and the per-epoch
history. A network only has to follow :class:`~._neural_heads.SequenceNet`'s
``forward(idx, targets, lengths, state) -> (logits, loss, state)``.

Learning-rate schedules
-----------------------
``"constant"``
    ``lr`` throughout.
``"cosine"``
    From ``lr`` down to 0 along a half cosine over the planned steps
    (``max_epochs`` epochs, or fewer when ``max_tokens`` ends training earlier).
``"plateau"``
    ``lr`` times ``lr_decay`` after every epoch whose validation loss (the
    training loss when there is no validation split) is not below the best so far.
``"step"``
    ``lr`` for the first ``lr_decay_start`` epochs, then times ``lr_decay``
    after every further epoch (Zaremba et al., 2014: 0.5 after epoch 4 of the
    small configuration).

Every schedule first rises linearly over ``warmup_steps`` optimiser steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ..exceptions import ConfigError, NumericalError
from ._neural_layers import set_generator

__all__ = ["TrainConfig", "train", "evaluate_loss", "detach_state", "OPTIMIZERS", "LR_SCHEDULES"]

OPTIMIZERS = ("adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "plateau", "step")
HISTORY_KEYS = ("epoch", "loss", "val_loss", "grad_norm", "tokens_seen", "seconds", "tokens_per_s", "lr")


@dataclass(frozen=True)
class TrainConfig:
    """The loop's settings (the estimator's parameters, checked).

    Attributes
    ----------
    optimizer : {"adamw", "sgd"}
    lr, weight_decay : float
        AdamW decays only weights of two or more dimensions (nanoGPT's rule).
    lr_schedule : {"constant", "cosine", "plateau", "step"}
    warmup_steps : int
    lr_decay : float
        Factor of the plateau and step schedules.
    lr_decay_start : int
        Epochs at full ``lr`` before the step schedule starts decaying.
    clip_norm : float or None
        Largest global gradient norm (None: no clipping).
    max_epochs, max_tokens : int or None
    time_budget_s : float or None
    patience : int or None
        Stop after this many epochs without a better validation loss.
    """

    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.01
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    lr_decay: float = 0.5
    lr_decay_start: int = 0
    clip_norm: float | None = 5.0
    max_epochs: int | None = 10
    max_tokens: int | None = None
    time_budget_s: float | None = None
    patience: int | None = None


def detach_state(state):
    """The recurrent state cut from the graph (tensors, tuples and lists of them)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def _optimizer(net, config):
    params = [p for p in net.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=config.weight_decay)
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr)


class _Schedule:
    """Learning rate per optimiser step (see the module docstring)."""

    def __init__(self, config, planned_steps):
        if config.lr_schedule == "cosine" and not planned_steps:
            raise ConfigError("lr_schedule='cosine' needs max_epochs or max_tokens to plan its length")
        self.config, self.planned, self.factor, self.epochs = config, planned_steps, 1.0, 0

    def lr(self, step):
        c = self.config
        lr = c.lr * self.factor
        if c.lr_schedule == "cosine":
            progress = min(1.0, step / max(1, self.planned))
            lr *= 0.5 * (1.0 + math.cos(math.pi * progress))
        if step < c.warmup_steps:
            lr *= (step + 1) / c.warmup_steps
        return lr

    def epoch_end(self, improved):
        c = self.config
        self.epochs += 1
        if (c.lr_schedule == "plateau" and not improved) or (
                c.lr_schedule == "step" and self.epochs >= c.lr_decay_start):
            self.factor *= c.lr_decay


def _planned_steps(config, steps_per_epoch, tokens_per_epoch):
    plans = []
    if config.max_epochs is not None:
        plans.append(config.max_epochs * steps_per_epoch)
    if config.max_tokens is not None and tokens_per_epoch:
        plans.append(math.ceil(config.max_tokens / tokens_per_epoch * steps_per_epoch))
    return min(plans) if plans else None


@torch.no_grad()
def evaluate_loss(net, chunks):
    """Target-weighted mean loss of ``net`` over chunks of windows (eval mode, state carried)."""
    net.eval()
    total, count = 0.0, 0
    for chunk in chunks:
        state = None
        for win in chunk:
            _, loss, state = net(win.inp, win.tgt, win.lengths, state)
            total += float(loss) * win.n_targets
            count += win.n_targets
    return total / count if count else None


def train(net, train_chunks, valid_chunks, config, *, steps_per_epoch, tokens_per_epoch, generator):
    """Fit ``net`` in place.

    Parameters
    ----------
    net : SequenceNet
    train_chunks : callable epoch -> iterable of list of Window
        The epoch's chunks (shuffled by the caller).
    valid_chunks : callable () -> iterable of list of Window, or None
    config : TrainConfig
    steps_per_epoch, tokens_per_epoch : int
        Windows and counted targets of one epoch (to plan the cosine schedule).
    generator : torch.Generator
        Every random draw of the network while training (dropout).

    Returns
    -------
    history : list of dict
        One per epoch (the last one possibly cut short by a budget) with keys
        ``epoch``, ``loss`` (training, nats per counted target),
        ``val_loss`` (None without validation), ``grad_norm`` (mean global
        norm before clipping), ``tokens_seen`` (cumulative), ``seconds``
        (cumulative, validation included), ``tokens_per_s`` (this epoch's
        training throughput) and ``lr`` (at the epoch's last step).
    stop_reason : {"max_epochs", "max_tokens", "time_budget", "early_stopping"}

    Raises
    ------
    NumericalError
        When an epoch's training loss is not finite.
    """
    opt = _optimizer(net, config)
    schedule = _Schedule(config, _planned_steps(config, steps_per_epoch, tokens_per_epoch))
    params = [p for g in opt.param_groups for p in g["params"]]
    clip = float("inf") if config.clip_norm is None else config.clip_norm
    history, step, tokens_seen, epoch = [], 0, 0, 0
    best_loss, best_weights, since_best, stop = math.inf, None, 0, None
    t_start = time.perf_counter()
    while stop is None:
        epoch += 1
        net.train()
        set_generator(net, generator)
        loss_sum = torch.zeros((), device=next(net.parameters()).device)
        norm_sum = torch.zeros_like(loss_sum)
        n_steps = epoch_tokens = 0
        t0 = time.perf_counter()
        lr = schedule.lr(step)
        for chunk in train_chunks(epoch):
            state = None
            for win in chunk:
                lr = schedule.lr(step)
                for group in opt.param_groups:
                    group["lr"] = lr
                _, loss, state = net(win.inp, win.tgt, win.lengths, state)
                state = detach_state(state)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                norm_sum += torch.nn.utils.clip_grad_norm_(params, clip)
                opt.step()
                step += 1
                n_steps += 1
                loss_sum += loss.detach() * win.n_targets
                epoch_tokens += win.n_targets
                tokens_seen += win.n_targets
                if config.max_tokens is not None and tokens_seen >= config.max_tokens:
                    stop = "max_tokens"
                elif config.time_budget_s is not None and time.perf_counter() - t_start >= config.time_budget_s:
                    stop = "time_budget"
                if stop:
                    break
            if stop:
                break
        set_generator(net, None)
        train_seconds = time.perf_counter() - t0
        loss_value = float(loss_sum) / max(epoch_tokens, 1)
        if not math.isfinite(loss_value):
            raise NumericalError(
                f"training loss became {loss_value} in epoch {epoch} (after {step} steps at lr {lr:.3g}); "
                f"lower lr or set clip_norm")
        val_loss = evaluate_loss(net, valid_chunks()) if valid_chunks is not None else None
        watched = val_loss if val_loss is not None else loss_value
        improved = watched < best_loss
        if improved:
            best_loss, since_best = watched, 0
            if val_loss is not None:
                best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since_best += 1
        history.append({"epoch": epoch, "loss": loss_value, "val_loss": val_loss,
                        "grad_norm": float(norm_sum) / max(n_steps, 1), "tokens_seen": tokens_seen,
                        "seconds": time.perf_counter() - t_start,
                        "tokens_per_s": epoch_tokens / train_seconds if train_seconds > 0 else None, "lr": lr})
        schedule.epoch_end(improved)
        if stop is None:
            if config.patience is not None and val_loss is not None and since_best >= config.patience:
                stop = "early_stopping"
            elif config.max_epochs is not None and epoch >= config.max_epochs:
                stop = "max_epochs"
            elif config.time_budget_s is not None and time.perf_counter() - t_start >= config.time_budget_s:
                stop = "time_budget"
    if best_weights is not None:
        net.load_state_dict(best_weights)
    net.eval()
    return history, stop
