"""The one reviewed list of differences from recorded Azure that the recorded tier accepts, each with its reason.

Timing only: Azure takes minutes and its pollers ask when they please; the emulator's answers are compared at
the moments Azure answered (replay.py), so an entry belongs here only when a recording cannot say when an
operation ended (its last polls were not recorded). Each entry: (session file stem, entry index, what differs,
reason). Anything not listed fails the recorded tier.
"""

from __future__ import annotations

ACCEPTED: list[tuple[str, int, str, str]] = []


def accepted(session: str, entry: int, what: str) -> str | None:
    for s, i, w, reason in ACCEPTED:
        if (s, i, w) == (session, entry, what):
            return reason
    return None
