"""Benchmarks of seqbench against the libraries a user would otherwise pick (``seqbench bench peers``).

A peer case times one operation on the same data and settings through
seqbench and through each peer library, interleaved, median of repeats,
after checking that their numbers agree where definitions coincide; see
:mod:`seqbench.bench.peers`. Results go to a results store
(:func:`read_results` gives them back for the report) and a printed table
(:func:`format_table`).
"""
from ._store import DEFAULT_PATH, read_results, write_results
from ._table import format_table
from .peers import (Case, Contender, Measured, Prepared, Unavailable, all_cases, case, run_cases,
                    select_cases)

__all__ = ["Case", "Contender", "Measured", "Prepared", "Unavailable", "all_cases", "case", "run_cases",
           "select_cases", "read_results", "write_results", "format_table", "DEFAULT_PATH"]
