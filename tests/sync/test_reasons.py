"""The reason table: every category the sync records has words and a next action for Ops."""

from __future__ import annotations

import pytest

from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync import reasons

RECORDED_CATEGORIES = sorted(
    value
    for name, value in vars(oc).items()
    if name.isupper() and isinstance(value, str) and name not in ("RETRYABLE_DOWNLOAD",)
)


@pytest.mark.parametrize("category", RECORDED_CATEGORIES)
def test_every_recorded_category_is_explained(category):
    text = reasons.explain(category)
    assert text.category == category, f"{category} has no entry in sync/reasons.py REASONS"
    assert text.words.endswith(".")
    assert text.next_action


def test_a_lost_sign_in_points_to_the_oauth_start_link():
    for category in (oc.NEEDS_REAUTH, oc.SCOPE_NOT_AUTHORIZED):
        assert "/tiktok/oauth/start" in reasons.explain(category).next_action


def test_a_corrupt_archive_or_an_expired_export_is_re_synced_by_open_ids():
    for category in (oc.ARCHIVE_CORRUPT, oc.DOWNLOAD_EXPIRED):
        assert "open_ids" in reasons.explain(category).next_action


@pytest.mark.parametrize(
    ("status", "status_reason", "category"),
    [
        ("active", None, None),
        ("needs_reauth", "refresh token expired", "needs_reauth"),
        ("needs_reauth", "scope_not_authorized: scope_not_authorized", "scope_not_authorized"),
        ("revoked", "authorization.removed: user disconnected", "revoked"),
        ("erased", "erasure requested by ops", "erased"),
        ("ineligible", "outside the EEA/UK", "ineligible_region"),
    ],
)
def test_a_grant_takes_its_category_from_its_reason_or_else_its_status(status, status_reason, category):
    assert reasons.grant_category(status, status_reason) == category


def test_an_account_outside_the_eea_is_not_sent_to_sign_in_again():
    action = reasons.explain(oc.INELIGIBLE_REGION).next_action
    assert "/tiktok/oauth/start" not in action
    assert "grants reactivate" in action


def test_a_reason_this_version_does_not_know_reads_as_unknown():
    assert reasons.category_of("brand_new_category: detail") == "unknown"
    assert reasons.explain("brand_new_category") == reasons.REASONS["unknown"]
    assert reasons.explain(None) is None
