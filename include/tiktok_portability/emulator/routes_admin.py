"""The ``/_admin`` surface: not TikTok's; used by tests, the demo and the benchmarks only."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from tiktok_portability.emulator.errors import AdminError
from tiktok_portability.emulator.faults import Fault
from tiktok_portability.emulator.responses import json_response
from tiktok_portability.emulator.runtime import Emulator

router = APIRouter(prefix="/_admin")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open_id: str | None = None
    scopes: list[str] = ["portability.all.ongoing"]
    region: str = "NL"
    generation: str = "G2"
    txt_variant: str = "en_new"
    size: str = "tiny"
    seed: int | None = None
    target_bytes: int | None = Field(default=None, gt=0)
    display_name: str | None = Field(default=None, max_length=200)


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redirect_uri: str
    scopes: list[str] | None = None


class Deauthorize(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: int = Field(default=1, ge=0, le=5)


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0)


def _emu(request: Request) -> Emulator:
    return request.app.state.emulator


async def _body(request: Request, model: type[BaseModel]) -> Any:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise AdminError(f"invalid {model.__name__}: {exc.errors(include_url=False)}") from None


def _user_view(emu: Emulator, open_id: str) -> dict[str, Any]:
    user = emu.world.user(open_id)
    return {**user.public(), "requests": [r.public() for r in emu.world.requests_of(open_id)]}


@router.post("/users")
async def create_user(request: Request) -> Response:
    spec: NewUser = await _body(request, NewUser)
    user = _emu(request).world.create_user(**spec.model_dump())
    return json_response(user.public(), status=201)


@router.get("/users")
async def list_users(request: Request) -> Response:
    return json_response([u.public() for u in list(_emu(request).world.users.values())])


@router.get("/users/{open_id}")
async def get_user(open_id: str, request: Request) -> Response:
    return json_response(_user_view(_emu(request), open_id))


@router.post("/users/{open_id}/tokens")
async def issue_tokens(open_id: str, request: Request) -> Response:
    return json_response(_emu(request).world.issue_tokens(open_id))


@router.post("/users/{open_id}/authorization-code")
async def authorization_code(open_id: str, request: Request) -> Response:
    body: CodeRequest = await _body(request, CodeRequest)
    code = _emu(request).world.create_code(open_id, body.redirect_uri, body.scopes)
    return json_response({"code": code, "redirect_uri": body.redirect_uri})


@router.post("/users/{open_id}/revoke")
async def deauthorize(open_id: str, request: Request) -> Response:
    body: Deauthorize = await _body(request, Deauthorize)
    _emu(request).world.deauthorize(open_id, body.reason)
    return json_response({"open_id": open_id, "authorized": False, "reason": body.reason})


@router.get("/requests/{request_id}")
async def get_request(request_id: str, request: Request) -> Response:
    return json_response(_emu(request).world.request(request_id).public())


@router.get("/clock")
async def get_clock(request: Request) -> Response:
    clock = _emu(request).clock
    return json_response({"now": clock.now(), "offset_s": clock.offset})


@router.post("/clock/advance")
async def advance_clock(request: Request) -> Response:
    body: Advance = await _body(request, Advance)
    emu = _emu(request)
    emu.clock.advance(body.seconds)
    emu.world.tick()  # readiness and expiry follow the jump at once, webhooks are queued
    return json_response({"now": emu.clock.now(), "offset_s": emu.clock.offset})


@router.get("/config")
async def get_config(request: Request) -> Response:
    return json_response(_public_config(_emu(request)))


@router.post("/config")
async def configure(request: Request) -> Response:
    raw = await request.body()
    try:
        changes = json.loads(raw or b"{}")
    except ValueError:
        raise AdminError("config body is not JSON") from None
    if not isinstance(changes, dict):
        raise AdminError("config body must be a JSON object")
    emu = _emu(request)
    emu.configure(changes)
    return json_response(_public_config(emu))


def _public_config(emu: Emulator) -> dict[str, Any]:
    data = emu.config.model_dump(mode="json", exclude={"client_secret", "webhook_secret"})
    data["eligible_regions"] = sorted(data["eligible_regions"])
    return data


@router.post("/faults")
async def add_fault(request: Request) -> Response:
    fault: Fault = await _body(request, Fault)
    emu = _emu(request)
    emu.faults.add(fault)
    return json_response({"active": emu.faults.active()}, status=201)


@router.get("/faults")
async def list_faults(request: Request) -> Response:
    return json_response({"active": _emu(request).faults.active()})


@router.delete("/faults")
async def clear_faults(request: Request) -> Response:
    _emu(request).faults.clear()
    return json_response({"active": []})


@router.get("/log")
async def request_log(
    request: Request, since: float | None = None, endpoint: str | None = None, open_id: str | None = None
) -> Response:
    return json_response(_emu(request).log.query(since=since, endpoint=endpoint, open_id=open_id))


@router.get("/webhooks")
async def webhooks(request: Request) -> Response:
    return json_response(_emu(request).webhooks.snapshot())


@router.post("/tick")
async def tick(request: Request) -> Response:
    emu = _emu(request)
    emu.world.tick()
    return json_response({"now": emu.clock.now(), "webhooks_pending": emu.webhooks.pending()})


@router.post("/reset")
async def reset(request: Request) -> Response:
    _emu(request).reset()
    return json_response({"reset": True})


@router.get("/health")
async def health(request: Request) -> Response:
    return json_response({"ok": True})
