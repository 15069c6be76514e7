"""Which principals still exist in the directory: Microsoft Graph's ``POST /v1.0/directoryObjects/getByIds``
("directoryObject: getByIds": returns the directory objects among the ids given, at most 1000 ids a request;
permission Directory.Read.All, delegated or application).

Why Graph: ARM offers no read that says a role assignment's principal was deleted (it keeps the assignment and
refuses new ones with PrincipalNotFound; "Troubleshoot Azure RBAC" only says such assignments show as "Identity not
found"). Graph does, but only to a caller with Directory.Read.All, which an operator who may move resources often
lacks: without it amlops cannot tell before the move, and the rebuild skips such grants with the reason instead.
"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors, translate
from amlops.azure.retry import Kind
from amlops.errors import AuthenticationFailed

BATCH = 1000  # getByIds: "ids ... up to 1000 IDs" per request


def missing_principals(clients: Clients, principal_ids: list[str]) -> list[str] | None:
    """The ids no directory object answers to (deleted principals), or None when the caller may not read the directory."""
    wanted = sorted({p.lower() for p in principal_ids})
    found: set[str] = set()
    graph = clients.graph()
    try:
        with azure_errors(Kind.READ):  # a POST that only reads
            for start in range(0, len(wanted), BATCH):
                body = {"ids": wanted[start : start + BATCH]}
                response = graph.send_request(HttpRequest("POST", f"{clients.target.graph_url}/v1.0/directoryObjects/getByIds", json=body))
                if response.status_code >= 400:
                    raise translate(HttpResponseError(response=response))
                found |= {o["id"].lower() for o in response.json().get("value", [])}
    except AuthenticationFailed:
        return None
    return [p for p in wanted if p not in found]
