"""PEP 562 lazy exports for package ``__init__`` modules.

Importing a light submodule (a CLI module, ``contract`` from a DAG file) must not pull in
SQLAlchemy, pyarrow or httpx through the package's ``__init__``; names are imported on first use.
A package names each export once, under the module that defines it:

    __getattr__, __all__ = lazy_exports(__name__, globals(), {"pkg.errors": ("Error",), ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], modules: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], list[str]]:
    """A module ``__getattr__`` importing each name from its module on first access, and ``__all__``."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__, sorted(where)
