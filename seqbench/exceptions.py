"""The seqbench error and warning taxonomy.

Every error message names where the problem is (sequence index, position),
the offending value and what was expected, e.g. ``y[4] has 7 tags for 8 tokens``.
"""
from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "InvalidSequenceError",
    "UnknownSymbolError",
    "ConfigError",
    "ResourceLimitError",
    "NumericalError",
    "DatasetUnavailableError",
    "NotFittedError",
    "ConvergenceWarning",
    "ImpossibleSequenceWarning",
    "DegenerateSolutionWarning",
]


class InvalidSequenceError(ValueError):
    """Input sequences (or tags) are malformed: wrong type, shape, length or value."""


class UnknownSymbolError(InvalidSequenceError):
    """A token or tag id lies outside the range the model (or vocabulary) knows."""


class ConfigError(ValueError):
    """A parameter, suite entry or option is invalid."""


class ResourceLimitError(ConfigError):
    """A requested computation would exceed a memory or time limit; the message gives the figure."""


class NumericalError(ArithmeticError):
    """A computation produced a non-finite value where a finite one was required."""


class DatasetUnavailableError(FileNotFoundError):
    """A named dataset is not on disk and could not be fetched; the message says what to put where."""


class ImpossibleSequenceWarning(UserWarning):
    """A sequence has probability zero under the model (score -inf)."""


class DegenerateSolutionWarning(UserWarning):
    """Training reached a degenerate solution (a state never used, a collapsed variance)."""
