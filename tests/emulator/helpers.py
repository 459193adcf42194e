"""Plain-httpx calls to the emulator's TikTok surface, as a client on the wire would make them."""

from __future__ import annotations

from typing import Any

import httpx

ADD_PATH = "/v2/user/data/add/?fields=request_id"
CHECK_FIELDS = "request_id,apply_time,collect_time,status,data_format,category_selection_list"
CHECK_PATH = f"/v2/user/data/check/?fields={CHECK_FIELDS}"
CANCEL_PATH = "/v2/user/data/cancel/"
DOWNLOAD_PATH = "/v2/user/data/download/"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def api(emulator: Any) -> httpx.Client:
    return httpx.Client(base_url=emulator.base_url, timeout=10)


def user_with_token(emulator: Any, **spec: Any) -> tuple[str, str]:
    """Create a user and return (open_id, access_token)."""
    user = emulator.create_user(**spec)
    tokens = emulator.issue_tokens(user["open_id"])
    return user["open_id"], tokens["access_token"]


def add(client: httpx.Client, token: str, categories: list[str] | None = None, data_format: str = "json"):
    body = {"data_format": data_format, "category_selection_list": categories or ["all_data"]}
    return client.post(ADD_PATH, headers=bearer(token), json=body)


def add_ok(
    client: httpx.Client, token: str, categories: list[str] | None = None, data_format: str = "json"
) -> int:
    resp = add(client, token, categories, data_format)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["request_id"]


def check(client: httpx.Client, token: str, request_id: int, path: str = CHECK_PATH):
    return client.post(path, headers=bearer(token), json={"request_id": request_id})


def status_of(client: httpx.Client, token: str, request_id: int) -> str:
    resp = check(client, token, request_id)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["status"]


def download(client: httpx.Client, token: str, request_id: int):
    return client.post(DOWNLOAD_PATH, headers=bearer(token), json={"request_id": request_id})


def error_code(resp: httpx.Response) -> str:
    return resp.json()["error"]["code"]
