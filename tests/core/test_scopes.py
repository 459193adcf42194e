from __future__ import annotations

import pytest

from tiktok_portability.scopes import (
    ScopeError,
    covering_scope,
    ongoing_categories,
    parse_scope,
    split_scopes,
    validate_categories,
)


def test_all_ongoing_requests_all_data_only() -> None:
    assert ongoing_categories(["portability.all.ongoing", "portability.activity.ongoing"]) == ["all_data"]


def test_ongoing_categories_are_the_union_of_ongoing_scopes_in_canonical_order() -> None:
    scopes = ["portability.directmessages.ongoing", "portability.postsandprofile.ongoing", "user.info.basic"]
    assert ongoing_categories(scopes) == ["video", "profile", "direct_message"]


def test_single_scopes_do_not_make_a_user_ongoing() -> None:
    assert ongoing_categories(["portability.all.single"]) == []


def test_all_data_takes_precedence() -> None:
    assert validate_categories(["activity", "all_data"]) == ["all_data"]


@pytest.mark.parametrize("bad", [[], ["videos"], ["activity", "nope"]])
def test_bad_categories_are_named(bad: list[str]) -> None:
    with pytest.raises(ScopeError):
        validate_categories(bad)


def test_narrowest_scope_covers_a_category() -> None:
    granted = ["portability.all.single", "portability.activity.single"]
    assert covering_scope("activity", granted) == "portability.activity.single"
    assert covering_scope("video", granted) == "portability.all.single"
    assert covering_scope("direct_message", ["portability.activity.ongoing"]) is None


def test_parse_and_split() -> None:
    assert parse_scope("portability.activity.ongoing") == ("activity", "ongoing")
    assert split_scopes("a, b,,a") == ["a", "b"]
    with pytest.raises(ScopeError, match=r"portability\.x\.ongoing"):
        parse_scope("portability.x.ongoing")
