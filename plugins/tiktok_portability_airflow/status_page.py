"""The status page as HTML: grants and transfers, each failure in words with the next action.

Pure rendering (no Airflow, no database): :mod:`tiktok_portability_airflow.status_view` reads the
rows and checks who may see them. Plain server-side HTML with a GET form, so it works inside the
Airflow UI's plugin frame without scripts and every filtered view is a link Ops can share.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from urllib.parse import urlencode

from tiktok_portability.state.models import GRANT_STATUSES
from tiktok_portability.state.status import GrantStatus, TransferStatus
from tiktok_portability.state.transitions import TRANSFER_STATUSES
from tiktok_portability.sync import reasons

TITLE = "TikTok users: who failed, and why"
# What every table shows at most; the page says so when a table is cut.
ROW_LIMIT = 500
MAX_TEXT = 200


class FilterError(ValueError):
    """A query parameter with a value the page does not offer; the message names it."""


@dataclass(frozen=True)
class StatusFilters:
    """The page's query parameters, checked against what the form offers."""

    grant_status: str | None = None
    transfer_status: str | None = None
    reason: str | None = None
    date: date | None = None
    open_id: str | None = None
    run_id: str | None = None
    reconsent_due: bool = False

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> StatusFilters:
        values: dict = {f.name: (query.get(f.name) or "").strip() or None for f in fields(cls)}
        values["reconsent_due"] = values["reconsent_due"] in ("1", "on", "true")
        _check_choice("grant_status", values["grant_status"], GRANT_STATUSES)
        _check_choice("transfer_status", values["transfer_status"], TRANSFER_STATUSES)
        _check_choice("reason", values["reason"], tuple(reasons.REASONS))
        for name in ("open_id", "run_id"):
            if values[name] is not None and len(values[name]) > 250:
                raise FilterError(f"{name} is longer than 250 characters")
        day = None
        if values["date"] is not None:
            try:
                day = date.fromisoformat(values["date"])
            except ValueError:
                raise FilterError("date must be YYYY-MM-DD") from None
        return cls(**{**values, "date": day})

    def query(self, **changes: str | None) -> str:
        """This filter as a query string, with ``changes`` applied (a link to a narrower view)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return urlencode({k: "1" if v is True else str(v) for k, v in values.items() if v})


def _check_choice(name: str, value: str | None, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        raise FilterError(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _detail(stored: str | None) -> str:
    """The part of a stored reason after its category (TikTok's code, the error text)."""
    if not stored:
        return ""
    tail = stored.partition(":")[2]
    text = tail.strip() if tail and reasons.category_of(stored) != reasons.UNKNOWN else stored
    return text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else "")


def _action(next_action: str, sign_in_url: str | None) -> str:
    """The next action, escaped; the sign-in path becomes the full link to send the user."""
    escaped = _e(next_action)
    if not sign_in_url:
        return escaped
    link = f"<a href='{_e(sign_in_url)}' target='_blank' rel='noopener'>{_e(sign_in_url)}</a>"
    return escaped.replace(_e(reasons.OAUTH_START_PATH), link)


def _reason_cells(category: str | None, stored: str | None, sign_in_url: str | None) -> str:
    text = reasons.explain(category)
    if text is None:
        return "<td></td><td></td>"
    detail = _detail(stored)
    detail_html = f"<div class='detail'>{_e(detail)}</div>" if detail else ""
    return (
        f"<td data-reason='{_e(text.category)}'><b>{_e(text.category)}</b>: "
        f"{_e(text.words)}{detail_html}</td>"
        f"<td class='action'>{_action(text.next_action, sign_in_url)}</td>"
    )


def _deadline(grant: GrantStatus, now: datetime) -> str:
    at = grant.refresh_expires_at
    if at is None:
        return ""
    note = ""
    if grant.reconsent_due:
        note = " <span class='warn'>re-consent due</span>"
    elif at <= now:
        note = " <span class='warn'>passed</span>"
    return _e(_time(at)) + note


def _grant_row(grant: GrantStatus, filters: StatusFilters, now: datetime, sign_in_url: str | None) -> str:
    category = reasons.grant_category(grant.status, grant.status_reason)
    if category is None and grant.last_transfer_status == "failed":
        # An active grant whose last transfer failed: that failure is why the user has no new data.
        category = reasons.category_of(grant.last_transfer_reason)
        stored = grant.last_transfer_reason
    else:
        stored = grant.status_reason
    link = f"?{filters.query(open_id=grant.open_id)}"
    return (
        f"<tr data-open-id='{_e(grant.open_id)}'><td><a href='{_e(link)}'>{_e(grant.open_id)}</a></td>"
        f"<td class='status-{_e(grant.status)}'>{_e(grant.status)}</td>"
        f"{_reason_cells(category, stored, sign_in_url)}"
        f"<td>{_e(_time(grant.last_synced_at))}</td>"
        f"<td>{_deadline(grant, now)}</td>"
        f"<td>{_e(grant.last_transfer_status)}</td></tr>"
    )


def _transfer_row(transfer: TransferStatus, filters: StatusFilters, sign_in_url: str | None) -> str:
    category = reasons.category_of(transfer.failure_reason) if transfer.failure_reason else None
    run_link = f"?{filters.query(run_id=transfer.run_id)}"
    return (
        f"<tr data-transfer-id='{transfer.id}'><td>{_e(transfer.open_id)}</td>"
        f"<td><a href='{_e(run_link)}'>{_e(transfer.run_id)}</a></td>"
        f"<td>{_e(transfer.snapshot_date)}</td>"
        f"<td class='status-{_e(transfer.status)}'>{_e(transfer.status)}</td>"
        f"{_reason_cells(category, transfer.failure_reason, sign_in_url)}"
        f"<td>{transfer.attempts}</td><td>{_e(_time(transfer.updated_at))}</td></tr>"
    )


def _options(name: str, choices: Iterable[str], selected: str | None, label: str) -> str:
    items = [f"<option value=''>{_e(label)}</option>"]
    for choice in choices:
        mark = " selected" if choice == selected else ""
        items.append(f"<option value='{_e(choice)}'{mark}>{_e(choice)}</option>")
    return f"<select name='{name}' id='{name}'>{''.join(items)}</select>"


def _form(filters: StatusFilters) -> str:
    reason_choices = [c for c in reasons.REASONS if c != reasons.UNKNOWN]
    return (
        "<form method='get' class='filters'>"
        f"<label>Grant status {_options('grant_status', GRANT_STATUSES, filters.grant_status, 'any')}</label>"
        f"<label>Transfer status "
        f"{_options('transfer_status', TRANSFER_STATUSES, filters.transfer_status, 'any')}</label>"
        f"<label>Reason {_options('reason', reason_choices, filters.reason, 'any')}</label>"
        f"<label>Snapshot date <input type='date' name='date' id='date' value='{_e(filters.date)}'></label>"
        f"<label>open_id <input name='open_id' id='open_id' value='{_e(filters.open_id)}'></label>"
        f"<label>Run <input name='run_id' id='run_id' value='{_e(filters.run_id)}'></label>"
        f"<label><input type='checkbox' name='reconsent_due' id='reconsent_due' value='1'"
        f"{' checked' if filters.reconsent_due else ''}> Re-consent due</label>"
        "<button type='submit'>Filter</button> <a href='?'>Clear</a></form>"
    )


def _cut(rows: Sequence[object], what: str) -> str:
    if len(rows) < ROW_LIMIT:
        return ""
    return f"<p class='warn'>Showing the first {ROW_LIMIT} {what}: narrow the filters to see the rest.</p>"


STYLE = """
body{font-family:system-ui,sans-serif;font-size:14px;margin:1em;color:#1a202c}
table{border-collapse:collapse;width:100%;margin-bottom:1.5em}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f7fafc;position:sticky;top:0}
.filters label{margin-right:1em;white-space:nowrap}
.filters{margin-bottom:1em;line-height:2.2}
.detail{color:#4a5568;font-size:12px}
.action{max-width:30em}
.warn{color:#b7791f;font-weight:600}
.status-failed,.status-needs_reauth,.status-expired,.status-revoked,.status-ineligible{color:#c53030}
.status-normalized,.status-active{color:#2f855a}
"""


def render(
    filters: StatusFilters,
    grants: Sequence[GrantStatus],
    transfers: Sequence[TransferStatus],
    counts: Mapping[str, int],
    now: datetime,
    sign_in_url: str | None = None,
) -> str:
    """The whole page; every value from the store is escaped.

    ``sign_in_url``: the full address of the OAuth start page, shown as the link to send a user.
    """
    summary = ", ".join(f"{n} {_e(status)}" for status, n in sorted(counts.items())) or "no grants yet"
    scope = f" of run <code>{_e(filters.run_id)}</code>" if filters.run_id else ""
    grant_rows = "".join(_grant_row(g, filters, now, sign_in_url) for g in grants)
    transfer_rows = "".join(_transfer_row(t, filters, sign_in_url) for t in transfers)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(TITLE)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(TITLE)}</h1><p>Grants: {summary}. Read-only. Reason and open_id filter both "
        "tables; grant status and re-consent due the grants; transfer status, snapshot date (the "
        "run's) and run the transfers, and narrow the grants to those users.</p>"
        f"{_form(filters)}"
        f"<h2 id='transfers'>Transfers{scope} ({len(transfers)})</h2>{_cut(transfers, 'transfers')}"
        "<table id='transfers-table'><thead><tr><th>open_id</th><th>run</th><th>snapshot date</th>"
        "<th>status</th><th>reason</th><th>next action</th><th>attempts</th><th>updated</th></tr></thead>"
        f"<tbody>{transfer_rows}</tbody></table>"
        f"<h2 id='grants'>Grants ({len(grants)})</h2>{_cut(grants, 'grants')}"
        "<table id='grants-table'><thead><tr><th>open_id</th><th>status</th><th>reason</th>"
        "<th>next action</th><th>last successful sync</th><th>consent deadline</th>"
        "<th>last transfer</th></tr></thead>"
        f"<tbody>{grant_rows}</tbody></table>"
        "</body></html>"
    )
