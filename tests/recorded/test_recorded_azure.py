"""The recorded tier: every session of real Azure in recordings/, replayed against the emulator over HTTPS.

Prints the figure (requests and sessions that agree) and fails on any difference not in accepted.py.
"""

from __future__ import annotations

import json

import pytest

from amlops.emulator import Emulator
from tests.recorded import accepted, replay, sanitise


def test_recorded_sessions_agree_with_the_emulator(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    replayer = replay.Replayer(emulator.base_url, str(emulator.ca_file))
    outcomes = [replayer.replay(path.stem, replay.load(path)) for path in replay.sessions()]
    unexplained: list[str] = []
    allowed: list[str] = []
    for outcome in outcomes:
        for diff in outcome.differences:
            reason = accepted.accepted(outcome.session, diff)
            (unexplained if reason is None else allowed).append(f"{outcome.session} {diff}" + (f" (accepted: {reason})" if reason else ""))
    requests = sum(o.requests for o in outcomes)
    agreeing = sum(o.agreeing for o in outcomes)
    whole = sum(1 for o in outcomes if not o.differences)
    bar_accepted = sum(o.requests - len({d.entry for d in o.differences if accepted.accepted(o.session, d) is None}) for o in outcomes)
    whole_bar_accepted = sum(1 for o in outcomes if all(accepted.accepted(o.session, d) for d in o.differences))
    beside_limits = sum(o.requests - len({d.entry for d in o.differences if d.what != "rate-limit headers"}) for o in outcomes)
    with capsys.disabled():
        print(
            f"\nrecorded Azure: {agreeing}/{requests} requests, {whole}/{len(outcomes)} sessions agree"
            f"; {bar_accepted}/{requests} and {whole_bar_accepted}/{len(outcomes)} bar {len(allowed)} accepted differences"
            f" ({beside_limits}/{requests} leaving rate-limit headers aside)"
        )
        for outcome in outcomes:
            print(f"  {outcome.session}: {outcome.agreeing}/{outcome.requests}")
    assert len(outcomes) >= 3
    assert not unexplained, "differences from recorded Azure:\n" + "\n".join(unexplained)


@pytest.mark.parametrize("path", replay.sessions(), ids=lambda p: p.stem)
def test_recordings_are_sanitised(path: object) -> None:
    assert sanitise.leaks(replay.load(path)) == []  # type: ignore[arg-type]


def test_the_sanitiser_removes_planted_secrets() -> None:
    planted = {
        "Entries": [
            {
                "RequestUri": "https://Sanitized.azure.com/subscriptions/2d385bf4-0756-4a76-aa95-28bf9ed3b625/providers/X/locations/westus/ops/1?api-version=1&c=MIIC&s=abc&h=def",
                "RequestMethod": "GET",
                "RequestHeaders": {
                    "Authorization": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJ1cG4iOiJwZXJzb25AZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJl",
                    "User-Agent": "x",
                },
                "RequestBody": {"properties": {"credentials": {"secrets": {"key": "c2VjcmV0", "connectionString": "AccountKey=abc;"}}}},
                "StatusCode": 200,
                "ResponseHeaders": {
                    "X-Secret": "1",
                    "Location": "https://management.azure.com/subscriptions/2d385bf4-0756-4a76-aa95-28bf9ed3b625/x?api-version=1&sig=abc",
                },
                "ResponseBody": {"sasToken": "?sv=2024&sig=abc", "owner": "person@contoso.com", "note": "?se=2026&sig=zzz"},
            }
        ]
    }
    clean = sanitise.sanitise(planted)
    text = json.dumps(clean)
    for secret in ("eyJ0eXAi", "c2VjcmV0", "AccountKey=abc", "sig=abc", "person@contoso.com", "2d385bf4", "X-Secret", "c=MIIC", "sig=zzz"):
        assert secret not in text
    assert sanitise.leaks(clean) == []
    assert clean["Entries"][0]["RequestUri"].startswith("https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/")


def test_only_the_explained_rate_limit_difference_is_accepted() -> None:
    hourly = ["x-ms-ratelimit-remaining-subscription-writes"]
    current = [*hourly, "x-ms-ratelimit-remaining-subscription-global-writes"]
    diff = replay.Difference(3, "rate-limit headers", hourly, current)
    assert accepted.accepted("batch_endpoint_create_delete", diff)
    assert accepted.accepted("online_endpoint_e2e", diff) is None, "only the 2023 session"
    for emulator in ([], hourly, ["x-ms-ratelimit-remaining-subscription-reads", "x-ms-ratelimit-remaining-subscription-global-reads"], [*current, "x-ms-ratelimit-remaining-tenant-writes"]):
        assert accepted.accepted("batch_endpoint_create_delete", replay.Difference(3, "rate-limit headers", hourly, emulator)) is None, emulator
    assert accepted.accepted("batch_endpoint_create_delete", replay.Difference(3, "status", 200, 201)) is None
