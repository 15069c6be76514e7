"""Pure helpers over ARM resource ids, as the emulator needs them (case-insensitive)."""

from __future__ import annotations

import re

_SUB_RE = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_RG_RE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)", re.IGNORECASE)
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def key(resource_id: str) -> str:
    """The store key: ARM ids compare case-insensitively and without a trailing slash."""
    return resource_id.rstrip("/").lower()


def subscription_of(resource_id: str) -> str | None:
    m = _SUB_RE.match(resource_id)
    return m.group(1).lower() if m else None


def resource_group_id(resource_id: str) -> str | None:
    m = _RG_RE.match(resource_id)
    return f"/subscriptions/{m.group(1)}/resourceGroups/{m.group(2)}" if m else None


def rebase(resource_id: str, old_rg_id: str, new_rg_id: str) -> str:
    """The id a resource gets when its resource group prefix changes (a move)."""
    assert key(resource_id).startswith(key(old_rg_id) + "/")
    return new_rg_id + resource_id[len(old_rg_id):]


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def is_under(resource_id: str, parent_id: str) -> bool:
    return key(resource_id).startswith(key(parent_id) + "/")


def in_view(own_scope: str, scope: str, at_scope_only: bool = False) -> bool:
    """Whether an extension resource (role assignment, lock) at ``own_scope`` is listed at ``scope``: ARM lists
    those at the scope and above it (inherited) and, unless ``$filter=atScope()``, those below it."""
    own, target = key(own_scope), key(scope)
    above = target == own or target.startswith(own + "/")
    return above or (not at_scope_only and own.startswith(target + "/"))
