"""The one reviewed list of differences from recorded Azure that the recorded tier accepts, each with its reason.

Timing only: Azure takes minutes and its pollers ask when they please; the emulator's answers are compared at
the moments Azure answered (replay.py), so an entry belongs here only when a recording cannot say when an
operation ended (its last polls were not recorded). Each entry: (session file stem, entry index, what differs,
reason; entry None: every entry of the session). Anything not listed fails the recorded tier.

One more kind is listed: a session recorded under an ARM throttling model ARM has since replaced. The emulator
follows the current one (x-ms-ratelimit-remaining-subscription-* with its ...-global-* counter, in every session of
2024 and later); the session's other answers are compared as any other's.
"""

from __future__ import annotations

HOURLY_MODEL = "recorded in 2023 under ARM's hourly throttling model (11999 reads, 1199 writes, no ...-global-* counters); the emulator follows the current model"

ACCEPTED: list[tuple[str, int | None, str, str]] = [
    ("batch_endpoint_create_delete", None, "rate-limit headers", HOURLY_MODEL),
]


def accepted(session: str, entry: int, what: str) -> str | None:
    for s, i, w, reason in ACCEPTED:
        if s == session and w == what and i in (None, entry):
            return reason
    return None
