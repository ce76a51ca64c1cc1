"""seqbench: probabilistic sequence models compared on the same work."""
__version__ = "0.1.0"

from .base import SequenceEstimator, Tags, get_tags  # noqa: E402
from .registry import list_models, make_model, register  # noqa: E402

__all__ = ["SequenceEstimator", "Tags", "get_tags", "list_models", "make_model", "register", "__version__"]
