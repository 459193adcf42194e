"""Settings of one emulator run; all of them can be changed at run time over ``/_admin/config``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HOUR = 3600
DAY = 24 * HOUR

# EU member states, the rest of the EEA (IS, LI, NO) and the UK (ISO code GB, also written UK):
# the only regions the Data Portability API returns data for.
EEA_UK_REGIONS: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB UK".split()  # noqa: SIM905
)


class EmulatorConfig(BaseModel):
    """What one emulator run does. Durations are seconds of emulator time unless named ``_real_``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    client_key: str = "demo-client-key"
    client_secret: str = Field(default="demo-client-secret", repr=False)

    access_token_ttl_s: int = Field(default=2 * HOUR, gt=0)
    refresh_token_ttl_s: int = Field(default=180 * DAY, gt=0)
    # TikTok documents refresh_expires_in as the REMAINING lifetime: the deadline is fixed at
    # consent and a refresh does not move it. True restarts it on every refresh (the old reading).
    refresh_deadline_restarts: bool = False
    authorization_code_ttl_s: int = Field(default=600, gt=0)

    prep_delay_s: float = Field(default=0.0, ge=0)
    download_window_s: float = Field(default=4 * DAY, gt=0)

    quota_per_minute: int = Field(default=1000, gt=0)
    quota_window_s: float = Field(default=60.0, gt=0)
    quota_mode: Literal["per_endpoint", "shared"] = "per_endpoint"
    # TikTok does not document Retry-After on 429, so it is off unless a test wants it.
    retry_after: bool = False

    webhook_url: str | None = None
    # Defaults to the client secret, as TikTok signs with it.
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    webhook_retry_max_s: float = Field(default=HOUR, gt=0)
    webhook_give_up_after_s: float = Field(default=72 * HOUR, gt=0)
    webhook_timeout_real_s: float = Field(default=5.0, gt=0)
    # Deliver every event twice, to test that receivers are idempotent.
    webhook_duplicate: bool = False
    # The defaults below are TikTok's documented shapes; each option is the other reading of a
    # point the docs leave open (docs/emulator.md, "Documented behaviour and the other readings").
    # TikTok's example of portability.download.ready has no user_openid; True adds it.
    webhook_user_openid: bool = False
    # Whether TikTok signs a retry again is undocumented: by default a retry keeps its first t.
    webhook_resign_retries: bool = False
    # Our own POST /v2/oauth/revoke/ produces authorization.removed with reason 5 (developer revoked).
    webhook_on_app_revoke: bool = True
    # Hold every delivery (queued, not attempted) until set back to False: late deliveries.
    webhooks_paused: bool = False
    # Cancel: the parameter table says query string, the example a JSON body; "either" accepts both.
    cancel_request_id_from: Literal["either", "query", "body"] = "either"
    # Download success: the zip with Content-Length (default), or chunked without it; its type.
    download_chunked: bool = False
    download_content_type: str = "application/zip"
    # Download failures: JSON envelope with the error's HTTP status (default), or HTTP 200 with
    # application/json ("http_200") or with the download content type ("http_200_binary").
    download_errors: Literal["status", "http_200", "http_200_binary"] = "status"

    tick_interval_real_s: float = Field(default=0.2, gt=0)
    eligible_regions: frozenset[str] = EEA_UK_REGIONS
    # What TikTok does for an account outside the EEA/UK is undocumented: "add" refuses the export
    # (scope_not_authorized naming the region), "consent" also refuses on the consent page
    # (access_denied naming the region), "empty_archive" serves an archive with no data.
    ineligible_region_mode: Literal["add", "consent", "empty_archive"] = "add"
    request_log_max: int = Field(default=1_000_000, gt=0)

    def signing_secret(self) -> str:
        return self.webhook_secret or self.client_secret
