"""seqbench model families, all behind the estimator contract in :mod:`seqbench.base`."""
from .ngram import NGram

__all__ = ["NGram"]
