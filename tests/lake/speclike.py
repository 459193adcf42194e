"""A minimal table spec for the incremental functions (they take any TableSpecLike)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class SpecLike:
    name: str
    schema: pa.Schema
    kind: str
    key: tuple[str, ...]
