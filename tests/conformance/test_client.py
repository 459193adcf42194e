"""The sync and async clients against the emulator: documented shapes first, then each option.

docs: data-portability-api-download (a zip on success, a JSON envelope on failure, headers
undocumented), data-portability-api-cancel-data-request (request_id in the query string per the
parameter table, in the body per the example), oauth-error-handling (the OAuth envelope).
"""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from tests.conformance.conftest import consent
from tests.sync.harness import make_runtime
from tiktok_portability.client import errors as e
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.fetch import download_batch
from tiktok_portability.sync.options import SyncOptions

DOWNLOAD_MODES = {
    "documented": {},
    "chunked": {"download_chunked": True},
    "octet_stream": {"download_content_type": "application/octet-stream"},
    "chunked_octet_stream": {"download_chunked": True, "download_content_type": "application/octet-stream"},
}
ERROR_MODES = ("status", "http_200", "http_200_binary")


def ready_request(emulator, client) -> tuple:
    tokens = consent(emulator)
    request_id = client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)
    return tokens, request_id


@pytest.mark.parametrize("mode", sorted(DOWNLOAD_MODES))
def test_sync_download_in_every_response_shape(emulator, sync_client, tmp_path, mode):
    emulator.configure(**DOWNLOAD_MODES[mode])
    tokens, request_id = ready_request(emulator, sync_client)

    result = sync_client.download(tokens.access_token, request_id, tmp_path / "a.zip", open_id=tokens.open_id)

    data = (tmp_path / "a.zip").read_bytes()
    assert data[:2] == b"PK"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.attempts == 1
    downloads = emulator.log(endpoint="download")
    assert [d["status"] for d in downloads] == [200]


@pytest.mark.parametrize("mode", sorted(DOWNLOAD_MODES))
async def test_async_download_in_every_response_shape(emulator, sync_client, async_client, tmp_path, mode):
    emulator.configure(**DOWNLOAD_MODES[mode])
    tokens, request_id = ready_request(emulator, sync_client)

    result = await async_client.download(
        tokens.access_token, request_id, tmp_path / "a.zip", open_id=tokens.open_id
    )

    assert result.sha256 == hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()
    assert result.attempts == 1


@pytest.mark.parametrize("mode", ERROR_MODES)
def test_sync_download_of_an_expired_request_is_one_call_and_an_invalid_request(
    emulator, sync_client, tmp_path, mode
):
    emulator.configure(download_errors=mode)
    tokens, request_id = ready_request(emulator, sync_client)
    emulator.fault("expire_request", endpoint="download")

    with pytest.raises(e.InvalidRequest, match="expired"):
        sync_client.download(tokens.access_token, request_id, tmp_path / "a.zip", open_id=tokens.open_id)

    assert len(emulator.log(endpoint="download")) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ERROR_MODES)
async def test_async_download_of_an_expired_request_is_one_call_and_an_invalid_request(
    emulator, sync_client, async_client, tmp_path, mode
):
    emulator.configure(download_errors=mode)
    tokens, request_id = ready_request(emulator, sync_client)
    emulator.fault("expire_request", endpoint="download")

    with pytest.raises(e.InvalidRequest, match="expired"):
        await async_client.download(
            tokens.access_token, request_id, tmp_path / "a.zip", open_id=tokens.open_id
        )

    assert len(emulator.log(endpoint="download")) == 1


@pytest.mark.parametrize("mode", ERROR_MODES)
def test_the_download_step_records_an_expired_request_as_expired_not_as_a_corrupt_archive(
    emulator, tmp_path, mode
):
    emulator.configure(download_errors=mode)
    runtime = make_runtime(tmp_path, emulator)
    tokens = consent(emulator, runtime.store)
    with runtime.client() as client:
        request_id = client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)
    runtime.store.save_run_plan("night", date(2026, 12, 1), "sync", [[tokens.open_id]])
    transfer = runtime.store.create_transfer(tokens.open_id, "night", ["all_data"], request_id, batch=0)
    runtime.store.transition(transfer.id, "ready")
    emulator.fault("expire_request", endpoint="download")

    report = download_batch(runtime, "night", 0, date(2026, 12, 1), SyncOptions())

    assert dict(report.outcomes) == {"expired": 1}
    assert runtime.store.get_transfer(transfer.id).status == "expired"
    assert len(emulator.log(endpoint="download")) == 1
    assert oc.ARCHIVE_CORRUPT not in str(report.to_dict())
    runtime.store.close()


@pytest.mark.parametrize("accepts", ["either", "query", "body"])
def test_sync_cancel_works_whichever_place_tiktok_reads_request_id_from(emulator, sync_client, accepts):
    emulator.configure(prep_delay_s=600, cancel_request_id_from=accepts)
    tokens, request_id = ready_request(emulator, sync_client)

    sync_client.cancel(tokens.access_token, request_id, open_id=tokens.open_id)

    assert emulator.request(request_id)["status"] == "cancelled"


@pytest.mark.parametrize("accepts", ["either", "query", "body"])
async def test_async_cancel_works_whichever_place_tiktok_reads_request_id_from(
    emulator, sync_client, async_client, accepts
):
    emulator.configure(prep_delay_s=600, cancel_request_id_from=accepts)
    tokens, request_id = ready_request(emulator, sync_client)

    await async_client.cancel(tokens.access_token, request_id, open_id=tokens.open_id)

    assert emulator.request(request_id)["status"] == "cancelled"


def test_token_refresh_in_the_documented_shape(emulator, sync_client):
    tokens = consent(emulator)

    fresh = sync_client.refresh(tokens.refresh_token, open_id=tokens.open_id)

    assert fresh.open_id == tokens.open_id
    assert fresh.refresh_token.reveal() != tokens.refresh_token.reveal()
    with pytest.raises(e.InvalidGrant):  # rotated out
        sync_client.refresh(tokens.refresh_token, open_id=tokens.open_id)


@pytest.mark.parametrize("http_status", [200, 503])
def test_temporarily_unavailable_on_the_token_endpoint_is_retried(emulator, sync_client, http_status):
    tokens = consent(emulator)
    emulator.fault("oauth_error", endpoint="oauth_token", http_status=http_status)

    fresh = sync_client.refresh(tokens.refresh_token, open_id=tokens.open_id)

    assert fresh.open_id == tokens.open_id
    assert [c["error_code"] for c in emulator.log(endpoint="oauth_token")] == [
        "temporarily_unavailable",
        "ok",
    ]


async def test_an_oauth_error_carried_by_http_200_is_an_error_for_the_async_client(emulator, async_client):
    tokens = consent(emulator)
    emulator.fault("oauth_error", endpoint="oauth_token", error="invalid_grant", http_status=200)

    with pytest.raises(e.InvalidGrant) as info:
        await async_client.refresh(tokens.refresh_token, open_id=tokens.open_id)

    assert info.value.http_status == 200
