"""The emulator's world: users, grants, tokens and data requests, behind one lock.

Every rule of docs/tiktok-api.md that depends on state lives here (token lifetimes and rotation, scope
checks and ``.single`` consumption, the request lifecycle), so the HTTP layer only translates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from tiktok_portability.emulator.config import EmulatorConfig
from tiktok_portability.emulator.errors import (
    AdminError,
    OAuthError,
    access_token_invalid,
    invalid_params,
    scope_not_authorized,
)
from tiktok_portability.emulator.models import AuthCode, DataRequest, Token, User
from tiktok_portability.emulator.randomness import POOL
from tiktok_portability.redact import fingerprint
from tiktok_portability.scopes import (
    ALL_SCOPES,
    CATEGORY_SCOPE_TYPES,
    MODES,
    ScopeError,
    covering_scope,
    parse_scope,
    split_scopes,
    validate_categories,
)

log = logging.getLogger(__name__)

DATA_FORMATS = ("json", "text")
GENERATIONS = ("G0", "G1", "G2", "G3")
TXT_VARIANTS = ("en_new", "en_old", "nl")
SIZES = ("tiny", "small", "medium", "large")
# Narrow scope types first: a request is served by the narrowest scope that covers all of it.
_TYPES_NARROW_FIRST = ("activity", "postsandprofile", "directmessages", "all")

Notify = Callable[[str, str, dict[str, Any]], None]  # (event, open_id, content)
DEVELOPER_REVOKED = 5  # authorization.removed reason when the app revoked the token itself
Discard = Callable[[int], None]  # forget a request's archive file


def required_scopes(categories: list[str], granted: Iterable[str]) -> list[str]:
    """The granted scopes a request for ``categories`` (already canonical) is served by.

    One scope covering every category is preferred, the narrowest first (so ``activity+video``
    with ``all.single`` and ``activity.single`` uses ``all.single``); otherwise each category is
    covered by its own narrowest scope. Raises ApiError(scope_not_authorized) naming the category
    nothing covers.
    """
    held = set(granted)
    for scope_type in _TYPES_NARROW_FIRST:
        if all(scope_type in CATEGORY_SCOPE_TYPES[c] for c in categories):
            for mode in MODES[::-1]:  # ongoing before single: an ongoing scope is never used up
                scope = f"portability.{scope_type}.{mode}"
                if scope in held:
                    return [scope]
    used: list[str] = []
    for category in categories:
        scope = covering_scope(category, held)
        if scope is None:
            raise scope_not_authorized(f"category {category!r} needs a scope the user has not granted")
        if scope not in used:
            used.append(scope)
    return used


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """Scope strings in order, or ScopeError naming one that is not a portability scope."""
    out = split_scopes(scopes)
    for s in out:
        if s not in ALL_SCOPES and s != "user.info.basic":
            raise ScopeError(f"unknown scope {s!r}")
    return out


class World:
    def __init__(self, config: EmulatorConfig, now: Callable[[], float], notify: Notify, discard: Discard):
        self.config = config
        self._now = now
        self._notify = notify
        self._discard = discard
        self._lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthCode] = {}
        self.requests: dict[int, DataRequest] = {}
        self._user_seq = 0

    # --- users and grants (admin surface) -------------------------------------------------------

    def create_user(
        self,
        *,
        open_id: str | None = None,
        scopes: Iterable[str] = ("portability.all.ongoing",),
        region: str = "NL",
        generation: str = "G2",
        txt_variant: str = "en_new",
        size: str = "tiny",
        seed: int | None = None,
        target_bytes: int | None = None,
        display_name: str | None = None,
    ) -> User:
        try:
            granted = check_scopes(scopes)
        except ScopeError as exc:
            raise AdminError(str(exc)) from None
        for name, value, allowed in (
            ("generation", generation, GENERATIONS),
            ("txt_variant", txt_variant, TXT_VARIANTS),
            ("size", size, SIZES),
        ):
            if value not in allowed:
                raise AdminError(f"{name}={value!r} is not one of {', '.join(allowed)}")
        with self._lock:
            self._user_seq += 1
            oid = open_id or f"emu-{self._user_seq:06d}-{POOL.hex(4)}"
            if oid in self.users:
                raise AdminError(f"user {oid!r} already exists", status=409)
            user = User(
                open_id=oid,
                region=region.upper(),
                generation=generation,
                txt_variant=txt_variant,
                size=size,
                seed=self._user_seq if seed is None else seed,
                target_bytes=target_bytes,
                scopes=granted,
                display_name=display_name or f"Emulator User {self._user_seq}",
            )
            self.users[oid] = user
        log.info("user created open_id=%s region=%s scopes=%s", fingerprint(oid), user.region, granted)
        return user

    def eligible(self, user: User) -> bool:
        """TikTok returns data only for accounts in the EEA and the UK."""
        return user.region in self.config.eligible_regions

    def user(self, open_id: str) -> User:
        with self._lock:
            user = self.users.get(open_id)
        if user is None:
            raise AdminError(f"no user with open_id {open_id!r}", status=404)
        return user

    def grant(self, open_id: str, scopes: Iterable[str] | None) -> User:
        """The user (re)consents: the grant becomes ``scopes`` (default: what it holds)."""
        with self._lock:
            user = self.user(open_id)
            if scopes is not None:
                try:
                    user.scopes = check_scopes(scopes)
                except ScopeError as exc:
                    raise OAuthError("invalid_scope", str(exc)) from None
            user.authorized = True
            return user

    def deauthorize(self, open_id: str, reason: int) -> None:
        """The user removed the app: tokens die and ``authorization.removed`` is sent."""
        with self._lock:
            user = self.user(open_id)
            self._kill_tokens(open_id)
            user.authorized = False
        log.info("user deauthorized open_id=%s reason=%s", fingerprint(open_id), reason)
        self._notify("authorization.removed", open_id, {"reason": reason})

    # --- tokens ------------------------------------------------------------------------------

    def issue_tokens(self, open_id: str, refresh_deadline: float | None = None) -> dict[str, Any]:
        """A new token pair. ``refresh_deadline`` (a refresh) keeps the consent's deadline unless
        ``refresh_deadline_restarts``; without it (a consent) the deadline starts now."""
        now = self._now()
        if refresh_deadline is None or self.config.refresh_deadline_restarts:
            refresh_deadline = now + self.config.refresh_token_ttl_s
        with self._lock:
            user = self.user(open_id)
            if not user.authorized:
                user.authorized = True
            access = Token("act." + POOL.urlsafe(32), "access", open_id, now + self.config.access_token_ttl_s)
            refresh = Token("rft." + POOL.urlsafe(32), "refresh", open_id, refresh_deadline)
            self.tokens[access.value] = access
            self.tokens[refresh.value] = refresh
            return {
                "open_id": open_id,
                "scope": ",".join(user.scopes),
                "access_token": access.value,
                "expires_in": self.config.access_token_ttl_s,
                "refresh_token": refresh.value,
                "refresh_expires_in": max(0, int(refresh_deadline - now)),
                "token_type": "Bearer",
            }

    def create_code(self, open_id: str, redirect_uri: str, scopes: Iterable[str] | None) -> str:
        with self._lock:
            user = self.user(open_id)
            try:
                granted = check_scopes(scopes) if scopes is not None else list(user.scopes)
            except ScopeError as exc:
                raise AdminError(str(exc)) from None
            code = POOL.urlsafe(24)
            self.codes[code] = AuthCode(
                code, open_id, redirect_uri, granted, self._now() + self.config.authorization_code_ttl_s
            )
            return code

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        with self._lock:
            auth = self.codes.get(code)
            if auth is None or auth.used or self._now() >= auth.expires_at:
                raise OAuthError("invalid_grant", "Authorization code is expired, used or unknown.")
            if auth.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
            auth.used = True
            self.grant(auth.open_id, auth.scopes)
            return self.issue_tokens(auth.open_id)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            token = self.tokens.get(refresh_token)
            if token is None or token.kind != "refresh" or not token.live(self._now()):
                raise OAuthError("invalid_grant", "Refresh token is invalid or expired.")
            user = self.user(token.open_id)
            if not user.authorized:
                raise OAuthError("invalid_grant", "The user has deauthorized the app.")
            token.revoked = True  # rotation: the old refresh token stops working now
            return self.issue_tokens(token.open_id, refresh_deadline=token.expires_at)

    def revoke(self, token_value: str) -> None:
        """``/v2/oauth/revoke/``: the app gives up the user's authorization (all tokens die).

        TikTok lists reason 5, "developer revoked", for ``authorization.removed``: our own revoke
        call produces the event (unless ``webhook_on_app_revoke`` is off).
        """
        with self._lock:
            token = self.tokens.get(token_value)
            if token is None:
                raise OAuthError("invalid_request", "Token is unknown.")
            self._kill_tokens(token.open_id)
            self.users[token.open_id].authorized = False
        if self.config.webhook_on_app_revoke:
            self._notify("authorization.removed", token.open_id, {"reason": DEVELOPER_REVOKED})

    def _kill_tokens(self, open_id: str) -> None:
        for token in self.tokens.values():
            if token.open_id == open_id:
                token.revoked = True

    def authenticate(self, authorization: str | None) -> User:
        """The user behind a ``Bearer`` header, or ApiError(access_token_invalid)."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise access_token_invalid()
        with self._lock:
            token = self.tokens.get(value.strip())
            if token is None or token.kind != "access" or not token.live(self._now()):
                raise access_token_invalid()
            user = self.users[token.open_id]
            if not user.authorized:
                raise access_token_invalid()
            return user

    def token_owner(self, authorization: str | None) -> str | None:
        """Best-effort open_id of a bearer token (for logs and fault filters), valid or not."""
        _, _, value = (authorization or "").partition(" ")
        token = self.tokens.get(value.strip())
        return token.open_id if token else None

    # --- data requests ----------------------------------------------------------------------

    def add_request(self, user: User, data_format: Any, categories: Any) -> DataRequest:
        if data_format not in DATA_FORMATS:
            raise invalid_params(f"data_format={data_format!r} is not one of {', '.join(DATA_FORMATS)}")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise invalid_params("category_selection_list must be a list of strings")
        try:
            canonical = validate_categories(categories)
        except ScopeError as exc:
            raise invalid_params(f"category_selection_list: {exc}") from None
        empty = not self.eligible(user) and self.config.ineligible_region_mode == "empty_archive"
        if not self.eligible(user) and not empty:
            raise scope_not_authorized(
                f"Data Portability is not available for this user's region ({user.region}); "
                "only EEA and UK users are eligible"
            )
        now = self._now()
        with self._lock:
            self._advance_user(user, now)
            used = required_scopes(canonical, user.scopes)
            ongoing = any(parse_scope(s)[1] == "ongoing" for s in used)
            if ongoing:
                busy = [r for r in self._requests_of(user) if r.in_flight()]
                if busy:
                    raise invalid_params(
                        f"request {busy[0].request_id} is still {busy[0].status}; an ongoing grant "
                        "allows one request in flight"
                    )
            for scope in used:
                if scope.endswith(".single"):
                    user.scopes.remove(scope)
            request_id = self._new_request_id()
            req = DataRequest(
                request_id=request_id,
                open_id=user.open_id,
                data_format=data_format,
                categories=canonical,
                scopes_used=used,
                apply_time=int(now),
                collect_time=int(now),
                ready_at=now + self.config.prep_delay_s,
                empty=empty,
            )
            self.requests[request_id] = req
            user.request_ids.append(request_id)
            self._advance(req, now)
        log.info(
            "data request added open_id=%s request_id=%s categories=%s scopes=%s",
            fingerprint(user.open_id),
            request_id,
            canonical,
            used,
        )
        return req

    def find_request(self, user: User, request_id: Any) -> DataRequest:
        rid = parse_request_id(request_id)
        with self._lock:
            req = self.requests.get(rid)
            if req is None or req.open_id != user.open_id:
                raise invalid_params(f"request_id {rid} does not exist for this user")
            self._advance(req, self._now())
            return req

    def cancel(self, user: User, request_id: Any) -> DataRequest:
        with self._lock:
            req = self.find_request(user, request_id)
            if req.status not in ("pending", "downloading"):
                raise invalid_params(f"request_id {req.request_id} is {req.status} and cannot be cancelled")
            req.status = "cancelled"
            self._discard(req.request_id)
            return req

    def expire(self, request_id: int) -> None:
        with self._lock:
            req = self.requests.get(request_id)
            if req is not None and req.status in ("pending", "downloading"):
                req.status = "expired"
                self._discard(request_id)

    def tick(self) -> None:
        """Move every live request along the lifecycle (the background loop calls this)."""
        now = self._now()
        with self._lock:
            live = [r for r in self.requests.values() if r.status in ("pending", "downloading")]
            for req in live:
                self._advance(req, now)

    def request(self, request_id: Any) -> DataRequest:
        rid = parse_request_id(request_id)
        with self._lock:
            req = self.requests.get(rid)
            if req is None:
                raise AdminError(f"no request with request_id {rid}", status=404)
            self._advance(req, self._now())
            return req

    def requests_of(self, open_id: str) -> list[DataRequest]:
        with self._lock:
            user = self.user(open_id)
            self._advance_user(user, self._now())
            return self._requests_of(user)

    def _requests_of(self, user: User) -> list[DataRequest]:
        return [self.requests[rid] for rid in user.request_ids]

    def _advance_user(self, user: User, now: float) -> None:
        for req in self._requests_of(user):
            self._advance(req, now)

    def _advance(self, req: DataRequest, now: float) -> None:
        if req.status == "pending" and now >= req.ready_at:
            user = self.users[req.open_id]
            user.ready_count += 1
            req.status = "downloading"
            req.ready_time = req.ready_at
            req.version = user.ready_count
            log.info("data request ready request_id=%s version=%s", req.request_id, req.version)
            self._notify("portability.download.ready", req.open_id, {"request_id": req.request_id})
        window_end = (req.ready_time or 0.0) + self.config.download_window_s
        if req.status == "downloading" and now >= window_end:
            req.status = "expired"
            self._discard(req.request_id)

    def _new_request_id(self) -> int:
        # int64 ids above 2**53, as in TikTok's examples, so that float round-trips show up.
        while True:
            rid = 2**60 + POOL.bits(62)
            if rid not in self.requests:
                return rid


def parse_request_id(value: Any) -> int:
    """A request id from JSON (number or digit string) or a query string, kept exact."""
    if isinstance(value, bool) or value is None:
        raise invalid_params("request_id is required and must be an int64")
    if isinstance(value, int):
        rid = value
    elif isinstance(value, str) and value.strip().isdigit():
        rid = int(value.strip())
    else:
        raise invalid_params(f"request_id {str(value)[:40]!r} is not an int64")
    if not 0 < rid < 2**63:
        raise invalid_params(f"request_id {rid} is out of the int64 range")
    return rid
