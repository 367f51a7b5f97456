"""The scoring engine: reads 8-bit prediction maps and masks from disk and scores them.

``evaluate_datasets`` scores several test sets laid out as ``<root>/<set>/`` and writes ``results.md/.csv/.json``,
``curves.json`` and reliability diagrams (:mod:`report`); ``run_evaluation`` does the same for any list of
folders; ``score_dataset`` scores one folder pair and returns its numbers. Each takes the options of
:class:`evaluate.accumulate.Scoring`, among them the ``protocol`` (:mod:`protocol`). What is computed is the
metric table's (:mod:`metrics.table`). Run ``python -m evaluate --help`` for the command line. The package
never imports torch or the model code; the names below are imported when first used, so that importing the
package (as the command line does before parsing its arguments) loads no library.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "EvaluationInputError": "evaluate.io",
    "Scoring": "evaluate.accumulate",
    **dict.fromkeys(("evaluate_datasets", "run_evaluation", "score_dataset"), "evaluate.runner"),
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
