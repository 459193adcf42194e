"""cached_per_object: one computation per object, told apart by identity, not equality."""

from __future__ import annotations

from tiktok_portability.per_object import cached_per_object


class Spec:
    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:  # equal specs are still different objects
        return isinstance(other, Spec) and other.name == self.name

    __hash__ = None  # unhashable, as a mutable spec-like may be


def test_computed_once_per_object_and_never_shared_between_equal_objects():
    calls: list[Spec] = []

    @cached_per_object
    def describe(spec: Spec) -> str:
        calls.append(spec)
        return f"{spec.name}#{len(calls)}"

    a, b = Spec("likes"), Spec("likes")
    assert describe(a) == "likes#1"
    assert describe(a) == "likes#1"
    assert describe(b) == "likes#2"
    assert calls == [a, b]
    assert calls[0] is a
    assert calls[1] is b
