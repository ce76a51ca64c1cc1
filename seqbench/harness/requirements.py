"""What a suite's model may require of the machine that runs its cells: ``requires = ["cuda"]``.

A cell whose requirement is missing is written as ``"unavailable"`` (like a
cell whose corpus is missing), not run: the GPU-sized rows of ``paper.toml``
would otherwise train for hours on a CPU. ``"unavailable"`` cells are not
done, so the next run on a machine that has the requirement runs them.
"""
from __future__ import annotations

__all__ = ["REQUIREMENTS", "unmet_requirements"]


def _cuda():
    import torch

    return torch.cuda.is_available()


REQUIREMENTS = {"cuda": (_cuda, "a CUDA device (torch.cuda.is_available() is False here)")}


def unmet_requirements(requires):
    """A message naming each of ``requires`` this machine lacks, or None when it has them all."""
    missing = [REQUIREMENTS[name][1] for name in requires if not REQUIREMENTS[name][0]()]
    if not missing:
        return None
    return (f"needs {'; '.join(missing)}; the cell is not run here and stays pending for a machine "
            f"that has it")
