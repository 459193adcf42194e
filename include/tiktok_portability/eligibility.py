"""Accounts outside the EEA/UK: how we recognise TikTok saying so, and what it means for a grant.

TikTok returns data only for accounts in the EEA and the UK, but does not document how it refuses
the others. We recognise three shapes (the emulator's ``ineligible_region_mode`` serves each):
an error on the consent page or on Add Data Request whose code or message names the region, and
an export with no data at all. Each parks the grant as ``ineligible`` with reason
``ineligible_region``: it is recorded once and left out of later nights. A re-consent keeps it
parked (consent does not change the account's region); ``grants reactivate`` un-parks it when the
user says their region changed.
"""

from __future__ import annotations

INELIGIBLE_REGION = "ineligible_region"
GRANT_STATUS = "ineligible"
# Words a refusal for an account outside the EEA/UK is expected to carry (lower case, substrings).
_REGION_WORDS = ("region", "eligib", "country", "eea")


def mentions_region(*texts: str | None) -> bool:
    """True when a TikTok error code or message says the account's region is not served."""
    text = " ".join(t for t in texts if t).lower()
    return any(word in text for word in _REGION_WORDS)
