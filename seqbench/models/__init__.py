"""seqbench model families, all behind the estimator contract in :mod:`seqbench.base`."""
from .attention import AttentionLSTM, Transformer
from .generative import GenerativeClassifier
from .hmm import HMM
from .kalman import Kalman
from .ngram import NGram
from .rnn import GRU, LSTM, RNN
from .seq2seq import Seq2Seq

__all__ = ["HMM", "Kalman", "NGram", "RNN", "LSTM", "GRU", "AttentionLSTM", "Transformer", "Seq2Seq",
           "GenerativeClassifier"]
