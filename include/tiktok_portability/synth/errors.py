"""Errors raised by the synthetic archive generator."""

from __future__ import annotations


class SynthError(ValueError):
    """Base class: something about a synthetic user or archive request is wrong."""


class SpecError(SynthError):
    """A UserSpec field holds a value the generator does not support."""


class ArchiveRequestError(SynthError):
    """A write_archive argument (version, data_format, categories, sink) is not usable."""
