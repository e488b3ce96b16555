"""The sandbox's strict behaviours and the lenient switches that turn single ones off.

The sandbox is our model of Google: when in doubt stricter, never kinder. Every behaviour
here is on by default. A product test that fails only because the sandbox became
stricter may pass `SandboxServer(lenient={"name", ...})`, with a comment
`# lenient: <behaviour> until issue 15 (<why>)`; the names are the keys below.
"""

from __future__ import annotations

from collections.abc import Iterable

LENIENT: dict[str, str] = {
    "windowed_tokens": (
        "the sandbox's old tokens: an incremental singleEvents listing expands a changed "
        "series only within the full sync's timeMin/timeMax (or two years). Google's tokens "
        "carry no window and return the series to its end, 730 instances at most when "
        "unbounded (events.list syncToken in the discovery document; kidd/org-gcal.el#82; "
        "garrytan/gbrain#5015, KeepSoftwareSimple/compass-calendar#797)"
    ),
    "token_ttl": "sync tokens never expire with age (Google's do: 410 fullSyncRequired)",
    "ids_reusable": (
        "an id purged from the trash may be inserted again (Google: 409 duplicate for good; "
        "googleapis/google-api-python-client#846, taers232c/GAMADV-X#82)"
    ),
    "revive_person_deleted": (
        "an event the person deleted in the web UI may be revived by patch/update (Google: "
        "403; google-api-ruby-client#1811, stackoverflow 27542721)"
    ),
    "invitation_patches": (
        "an invitation from an organizer outside the account accepts any patch (Google: 403 "
        "forbiddenForNonOrganizer; kewisch/gdata-provider#3, #728)"
    ),
    "birthday_private": (
        "birthday events accept private extendedProperties (Google: 400; "
        "phw198/OutlookGoogleCalendarSync#2103)"
    ),
    "usage_limit": (
        "no sticky usage lockout after a burst of writes (Google: 403 quotaExceeded for "
        "hours; support.google.com/a/answer/2905486)"
    ),
    "quota_faults_forgotten": (
        "an injected quotaExceeded fault answers one call and is forgotten (Google's usage "
        "limit is sticky; support.google.com/a/answer/2905486)"
    ),
    "calendar_burst": (
        "no per-calendar write burst limit (Google: 403 rateLimitExceeded; Calendar API "
        "guide, Handle API errors)"
    ),
    "batch_order": (
        "batch parts run and are answered in request order (Google: 'the server might "
        "perform your calls in any order'; Calendar API guide, Send batch requests)"
    ),
    "batch_failures": (
        "the whole-batch 503/429 fault is off (Google may fail a whole batch; "
        "GOOGLE_FACTS.md Batch)"
    ),
}


def lenient_set(names: Iterable[str] | None) -> frozenset[str]:
    """Validated lenient names (an unknown name is a harness mistake: ValueError)."""
    out = frozenset(names or ())
    unknown = sorted(out - LENIENT.keys())
    if unknown:
        raise ValueError(f"unknown lenient switch(es) {unknown}; known: {sorted(LENIENT)}")
    return out
