"""The one reviewed list of differences from recorded Azure that the recorded tier accepts, each with its reason.

Timing only: Azure takes minutes and its pollers ask when they please; the emulator's answers are compared at
the moments Azure answered (replay.py), so an entry belongs here only when a recording cannot say when an
operation ended (its last polls were not recorded). Each entry: (session file stem, entry index or None for every
entry, what differs, reason, and a test the two sides must pass: the difference must be exactly the one explained).
Anything not listed, or listed but not of the explained shape, fails the recorded tier.

One more kind is listed: a session recorded under an ARM throttling model ARM has since replaced. ARM's hourly
model (12,000 reads and 1,200 writes an hour per subscription, reported as x-ms-ratelimit-remaining-subscription-
{reads,writes,deletes} alone) gave way to regional token buckets that report a ...-global-{kind} counter beside
each ("Understand how Azure Resource Manager throttles requests"); every session here from the end of 2024 on carries
it (compute and cluster 2024-12, resources 2025-05 and 2025-06, datastore, job and online endpoint 2026-03,
resource groups 2026-06). The emulator follows the current model. Five sessions predate it: the batch endpoint's
(2023-12; so is every stored version of azure-ai-ml's batch endpoint recordings read for this: test_batch_endpoint_create
2023-12-02 and 2023-12-04, test_mlflow_batch_endpoint_create_and_update 2023-12-01; test_batch_component is empty,
so no newer recording can replace it), the schedule's (2024-02, the newest stored version of test_schedule_lifetime),
the workspace delete's (2024-06: deletes 14999, reads 11997)
and the successful move and validation (2023-02, azure-sdk-for-net's; the only recorded moveResources that ends and
the only validation that passes, their hourly counters visibly resetting between two polls, 11845 then 11975).
Accepted for them: the emulator's rate-limit header names are Azure's plus the global counter of each, nothing else;
their other answers are compared as any other session's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.recorded.replay import RATE_LIMIT, Difference

HOURLY_MODEL = "recorded in 2023 under ARM's hourly throttling model (11999 reads, 1199 writes, no ...-global-* counters); the emulator follows the current model"


def adds_global_counters(azure: Any, emulator: Any) -> bool:
    """Azure's hourly-model names, and the emulator's: the same names plus ...-subscription-global-{kind} for each."""
    prefix = RATE_LIMIT + "subscription-"
    if not isinstance(azure, list) or not isinstance(emulator, list) or not azure:
        return False
    if any(not name.startswith(prefix) or name.startswith(prefix + "global-") for name in azure):
        return False
    return sorted(emulator) == sorted(azure + [prefix + "global-" + name[len(prefix) :] for name in azure])


ACCEPTED: list[tuple[str, int | None, str, str, Callable[[Any, Any], bool]]] = [
    ("batch_endpoint_create_delete", None, "rate-limit headers", HOURLY_MODEL, adds_global_counters),
    ("schedule_create_update_disable", None, "rate-limit headers", HOURLY_MODEL.replace("2023", "2024-02"), adds_global_counters),
    ("move_resources_succeeded", None, "rate-limit headers", HOURLY_MODEL.replace("2023", "2023-02"), adds_global_counters),
    ("validate_move_succeeded", None, "rate-limit headers", HOURLY_MODEL.replace("2023", "2023-02"), adds_global_counters),
    ("workspace_delete", None, "rate-limit headers", HOURLY_MODEL.replace("2023", "2024-06"), adds_global_counters),
]


def accepted(session: str, diff: Difference) -> str | None:
    """The reason a difference is accepted, or None: listed for this session and entry, and of the explained shape."""
    for s, i, what, reason, shape in ACCEPTED:
        if s == session and what == diff.what and i in (None, diff.entry) and shape(diff.azure, diff.emulator):
            return reason
    return None
