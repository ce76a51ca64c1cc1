"""seqbench model families, all behind the estimator contract in :mod:`seqbench.base`."""
from .hmm import HMM
from .kalman import Kalman
from .ngram import NGram
from .rnn import GRU, LSTM, RNN

__all__ = ["HMM", "Kalman", "NGram", "RNN", "LSTM", "GRU"]
