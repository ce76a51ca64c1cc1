"""Where and with what a run happened: package versions, git revision, machine, suite file.

Stored with every result row (versions, git revision) and once per run in the
store's ``runs`` table (:func:`run_info`), so a report can say what produced it
without re-running anything.
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from dataclasses import asdict
from functools import cache
from importlib import metadata
from pathlib import Path

from .. import __version__

__all__ = ["versions", "git_revision", "machine", "run_info"]


@cache
def versions():
    """Versions of seqbench, the libraries that compute results, and Python."""
    import numpy
    import torch

    try:
        hmmlearn = metadata.version("hmmlearn")
    except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
        hmmlearn = None
    return {"seqbench": __version__, "torch": torch.__version__, "hmmlearn": hmmlearn,
            "numpy": numpy.__version__, "python": platform.python_version()}


@cache
def git_revision():
    """HEAD of the git checkout seqbench runs from, or None (not a checkout, no git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib():
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _accelerator():
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
    return None


@cache
def machine():
    """The machine: OS, CPU model, logical and usable cores, memory, accelerator (or None)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"os": platform.platform(), "cpu": _cpu_model(), "architecture": platform.machine(),
            "logical_cores": os.cpu_count(), "usable_cores": usable, "memory_gib": _memory_gib(),
            "accelerator": _accelerator()}


def run_info(suite, *, backend, n_jobs, scheduler=None):
    """What the store's ``runs`` table keeps about one run of ``suite`` (a :class:`Suite`)."""
    text = suite.path.read_text() if suite.path is not None and suite.path.is_file() else None
    return {
        "suite": suite.name, "description": suite.description,
        "suite_path": str(suite.path) if suite.path is not None else None,
        "suite_toml": text,
        "suite_sha256": hashlib.sha256(text.encode()).hexdigest() if text is not None else None,
        "targets": [asdict(t) for t in suite.targets],
        "backend": backend, "n_jobs": n_jobs, "scheduler": scheduler,
        "versions": versions(), "git_revision": git_revision(), "machine": machine(),
    }
