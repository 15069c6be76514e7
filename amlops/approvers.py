"""Who may answer an approval: the deployment's list of approvers, and never the person who started the run.

GitHub's environments taught it: an approval counts when it comes from someone on the list for that
deployment, and not from the person who asked for the change. The list is a Prefect variable
(``amlops_approvers``: a JSON object from ``flow/deployment`` (or a flow's name, or ``*``) to names);
without an entry for the run, anyone may approve, but never the starter. Names compare without case.

What this can prove depends on the server: Prefect's open-source server authenticates one shared
credential (basic auth), so the approver's name is what the person typed and the starter is known only
when the run says so (Prefect Cloud's ``created_by`` of type USER, or a ``started-by:NAME`` tag the
starter put on the run). The check keeps honest people from approving their own change or someone
else's deployment; it is not proof of identity.
"""

from __future__ import annotations

from typing import Any

VARIABLE = "amlops_approvers"
STARTED_BY_TAG = "started-by:"


def _norm(name: str) -> str:
    return name.strip().casefold()


def approvers_for(config: Any, flow: str, deployment: str | None) -> list[str] | None:
    """The list that applies to a run of ``flow`` from ``deployment`` (None: no list, anyone may approve).

    Looked up as ``flow/deployment``, then ``flow``, then ``*``."""
    if not isinstance(config, dict):
        return None
    for key in ([f"{flow}/{deployment}"] if deployment else []) + [flow, "*"]:
        if key in config:
            names = config[key]
            if isinstance(names, str):
                names = names.split(",")
            return [str(n).strip() for n in names if str(n).strip()]
    return None


def starter_of(created_by_type: str | None, created_by_name: str | None, tags: list[str]) -> str | None:
    """Who started the run, when the run says so: a user Prefect authenticated, else a started-by tag."""
    if created_by_type == "USER" and created_by_name:
        return created_by_name.strip()
    for tag in tags:
        if tag.startswith(STARTED_BY_TAG) and tag[len(STARTED_BY_TAG) :].strip():
            return tag[len(STARTED_BY_TAG) :].strip()
    return None


def approver_problems(approver: str, allowed: list[str] | None, starter: str | None) -> list[str]:
    """Why this person may not answer (empty: they may), in words the form shows them."""
    name = approver.strip()
    if not name:
        return ["the approver's name is empty"]
    found = []
    if allowed is not None and _norm(name) not in {_norm(a) for a in allowed}:
        found.append(f"{name} is not on this deployment's list of approvers ({', '.join(allowed) or 'nobody'}); ask one of them")
    if starter and _norm(name) == _norm(starter):
        found.append(f"{name} started this run and may not approve it; ask another approver")
    return found
