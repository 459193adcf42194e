"""Erase users on request (GDPR art. 17): at TikTok, in the state store and in the data lake.

Trigger it with the users' ``open_ids`` and who asked (``requested_by``, kept in the audit
records). For each user, in turn (the logic is ``tiktok_portability.erasure``):

1. optionally, TikTok is told: pending export requests are cancelled and the app's authorization
   is revoked (best effort: a user who already revoked us is noted, not an error);
2. the grant becomes ``erased``: tokens and watermarks are deleted and no sync touches the user
   again; in-flight transfers are closed;
3. the lake loses the user's rows in every table, raw archives, ledger and manifest entries, and
   gains an audit record under ``_audit/erasure/``.

Users are erased one after another in one task (lake files are shared by the users of a batch, so
two erasures must not rewrite the same file at once; ``max_active_runs=1`` keeps runs apart).
One user's failure does not stop the others; the task fails at the end, naming each failed user
by fingerprint and reason, and a retry erases again (erasure is idempotent). Logs and the
returned summary hold fingerprints, never open_ids; the run's conf holds the open_ids you typed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

log = logging.getLogger(__name__)

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(hours=6),
}


@dag(
    dag_id="tiktok_user_erasure",
    description="GDPR erasure of TikTok users: revoke at TikTok, erase tokens and state, delete lake rows",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["tiktok", "portability", "gdpr"],
    params={
        "open_ids": Param(
            [],
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            description="The users' TikTok open_ids, one per line.",
        ),
        "requested_by": Param(
            "",
            type="string",
            minLength=1,
            description="Who asked for the erasure (a ticket or a person; kept in the audit records).",
        ),
        "revoke_at_tiktok": Param(
            True,
            type="boolean",
            description="Also cancel pending exports and revoke the app's authorization at TikTok.",
        ),
        "full_scan": Param(
            False,
            type="boolean",
            description="Read every lake file instead of only the batches each user's ledger names "
            "(slow on a large lake; for audits).",
        ),
    },
    doc_md=__doc__,
)
def tiktok_user_erasure():
    @task(pool="tiktok_api")
    def erase(params: dict | None = None) -> dict:
        from airflow.sdk.exceptions import AirflowException

        from tiktok_portability.erasure import erase_users
        from tiktok_portability_airflow.runtime import build_runtime

        params = params or {}
        runtime = build_runtime()
        try:
            results = erase_users(
                runtime,
                list(params.get("open_ids") or []),
                requested_by=str(params.get("requested_by") or ""),
                revoke_at_tiktok=bool(params.get("revoke_at_tiktok", True)),
                full_scan=bool(params.get("full_scan", False)),
            )
        finally:
            runtime.store.close()
        for r in results:
            log.info("erasure %s", r.to_dict())
        summary = {
            "users": len(results),
            "erased": sum(r.ok for r in results),
            "failed": {r.user: r.error for r in results if not r.ok},
            "revoked_at_tiktok": sum(r.revoked_at_tiktok for r in results),
            "audit_records": [r.lake["audit_key"] for r in results if r.lake],
        }
        log.info("erasure summary %s", summary)
        if summary["failed"]:
            failed = summary["failed"]
            raise AirflowException(f"{len(failed)} of {len(results)} erasures failed: {failed}")
        return summary

    erase()


tiktok_user_erasure()
