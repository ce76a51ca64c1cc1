"""Shared test fixtures: deterministic seeds, one torch thread, corpus availability."""
import os
from pathlib import Path

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def data_root():
    """The corpus root tests read: $SEQBENCH_DATA, else the project's datasets/ folder."""
    env = os.environ.get("SEQBENCH_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "datasets"


def require_corpus(*relpaths):
    """Return the corpus paths, or skip (outside CI) when any is absent; under CI=true absence fails."""
    root = data_root()
    paths = [root / p for p in relpaths]
    missing = [str(p) for p in paths if not p.exists() and not Path(str(p) + ".gz").exists()]
    if missing:
        msg = f"corpus files absent: {', '.join(missing)} (set SEQBENCH_DATA)"
        if IN_CI:
            pytest.fail(msg + " -- CI=true requires every corpus")
        pytest.skip(msg)
    return paths


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    yield
