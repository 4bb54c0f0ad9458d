"""Lazy package façades: a package's public names load their module on first use.

A package whose modules import heavy dependencies (numpy, scikit-learn, a tokenizer) maps
each public name to its internal module and sets ``__getattr__ = lazy_exports(__name__,
_EXPORTS)``, so that importing the package itself stays cheap (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports `package.<module>` for a name in `exports`."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
