from __future__ import annotations

from datetime import timedelta

import pytest

from tiktok_portability.sync.options import OptionsError, SyncOptions
from tiktok_portability.sync.plan import chunk, effective_batch_size


def test_params_from_the_trigger_form_become_options() -> None:
    options = SyncOptions.from_params(
        {
            "open_ids": ["u-1", " u-2 "],
            "categories": [],
            "batch_size": "250",
            "dry_run": True,
            "wait_deadline": 60,
            "unknown_param": "ignored",
        }
    )
    assert options.open_ids == ("u-1", "u-2")
    assert options.categories is None
    assert options.batch_size == 250
    assert options.dry_run is True
    assert options.wait_deadline == timedelta(seconds=60)


def test_comma_separated_strings_are_accepted_for_lists() -> None:
    assert SyncOptions.from_params({"open_ids": "a,b c"}).open_ids == ("a", "b", "c")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": "many"}, "batch_size must be an integer"),
        ({"categories": ["videos"]}, "categories"),
        ({"open_ids": ["../etc/passwd"]}, "open_ids"),
        ({"data_format": "xml"}, "data_format"),
        ({"max_failure_rate": 2}, "max_failure_rate"),
    ],
)
def test_bad_params_name_the_param(params: dict, message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        SyncOptions.from_params(params)


def test_requested_categories_follow_the_grant() -> None:
    everything = SyncOptions()
    assert everything.requested_categories(["all_data"]) == ["all_data"]
    assert everything.requested_categories(["activity"]) == ["activity"]
    assert everything.requested_categories([]) == []
    narrowed = SyncOptions(categories=("direct_message",))
    assert narrowed.requested_categories(["all_data"]) == ["direct_message"]
    assert narrowed.requested_categories(["activity"]) == []
    assert narrowed.requested_categories(["video", "profile", "direct_message"]) == ["direct_message"]


def test_batches_never_exceed_airflows_map_limit() -> None:
    assert effective_batch_size(100_000, 50) == 98  # ceil(100000 / 1024)
    assert effective_batch_size(1_000, 50) == 50
    assert [len(b) for b in chunk([str(i) for i in range(5)], 2)] == [2, 2, 1]
