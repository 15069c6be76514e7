"""Everything the emulator knows, and nothing about HTTP.

Resources live in one store keyed by lower-cased id, as generic ARM bodies; provider
models in ``models/`` put rules on top. One lock serialises requests: the emulator
favours obvious correctness over parallel throughput.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from amlops.emulator import ids
from amlops.emulator.clock import VirtualClock
from amlops.emulator.errors import ArmError

# The resource providers a subscription has registered when nobody said otherwise.
DEFAULT_PROVIDERS = (
    "Microsoft.MachineLearningServices",
    "Microsoft.Storage",
    "Microsoft.ContainerRegistry",
    "Microsoft.KeyVault",
    "Microsoft.Notebooks",
    "Microsoft.ContainerService",
    "Microsoft.Insights",
    "Microsoft.Network",
    "Microsoft.Authorization",
    "Microsoft.Resources",
    "Microsoft.Databricks",
)
DEFAULT_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEFAULT_REGION = "eastus"


@dataclass
class Subscription:
    id: str
    tenant_id: str = DEFAULT_TENANT
    region: str = DEFAULT_REGION
    # namespace (original casing) -> registrationState
    providers: dict[str, str] = field(default_factory=lambda: {p: "Registered" for p in DEFAULT_PROVIDERS})

    def registration(self, namespace: str) -> tuple[str, str]:
        for name, registration in self.providers.items():
            if name.lower() == namespace.lower():
                return name, registration
        return namespace, "NotRegistered"


@dataclass
class Settings:
    page_size: int = 100
    # Progression of long-running operations, by kind ("compute.create", "move", ...) or "default":
    # {"mode": "immediate"} | {"mode": "polls", "count": N} | {"mode": "seconds", "seconds": S}
    lro: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {"mode": "immediate"}})
    # Azure refuses a compute create with a name the workspace had before a move this many times (Etag conflict).
    etag_conflicts_after_move: int = 1
    # Job timeline in seconds of emulator time: queued -> running -> completed.
    job_queue_seconds: float = 1.0
    # Per compute name: how long jobs wait there (a low-priority cluster with no nodes to give keeps them Queued).
    job_queue_seconds_by_compute: dict[str, float] = field(default_factory=dict)
    job_run_seconds: float = 60.0
    # Azurite, where simulated training scripts write their checkpoints: URL (…/devstoreaccount1) and key.
    storage_url: str = ""
    storage_key: str = ""
    # Azure Monitor emits no metric data for these online endpoints (ids, lower-cased): a new endpoint,
    # or a gap in the metrics pipeline. The metrics API then answers with an empty timeseries.
    endpoints_without_metrics: list[str] = field(default_factory=list)


class Store:
    """ARM resources as JSON bodies, keyed by lower-cased id, in insertion order."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}

    def get(self, resource_id: str) -> dict[str, Any] | None:
        return self._items.get(ids.key(resource_id))

    def require(self, resource_id: str, kind: str = "Resource") -> dict[str, Any]:
        from amlops.emulator.errors import not_found

        body = self.get(resource_id)
        if body is None:
            raise not_found(resource_id, kind)
        return body

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        self._items[ids.key(body["id"])] = body
        return body

    def delete(self, resource_id: str) -> dict[str, Any] | None:
        return self._items.pop(ids.key(resource_id), None)

    def __contains__(self, resource_id: str) -> bool:
        return ids.key(resource_id) in self._items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def children(self, parent_id: str, segment: str) -> list[dict[str, Any]]:
        """Direct children such as ``{workspace}/computes/*``."""
        prefix = ids.key(parent_id) + "/" + segment.lower() + "/"
        return [b for k, b in self._items.items() if k.startswith(prefix) and "/" not in k[len(prefix):]]

    def under(self, parent_id: str) -> list[dict[str, Any]]:
        """Everything below a resource (its whole subtree), not the resource itself."""
        prefix = ids.key(parent_id) + "/"
        return [b for k, b in self._items.items() if k.startswith(prefix)]

    def clear(self) -> None:
        self._items.clear()


@dataclass
class Operation:
    """A long-running operation: the effect runs when the operation's time has come."""

    id: str
    kind: str
    subscription: str
    namespace: str
    location: str
    complete: Callable[[], Any]
    polls_left: int = 0
    ready_at: float = 0.0
    fail_with: ArmError | None = None
    on_fail: Callable[[], None] | None = None
    status: str = "InProgress"
    result: Any = None
    error: ArmError | None = None
    started: str = ""
    ended: str = ""


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        self.clock = VirtualClock()  # a reset emulator starts from the present, not from where tests moved it
        self.store = Store()
        self.settings = Settings()
        self.subscriptions: dict[str, Subscription] = {}
        # With a scenario loaded, only declared subscriptions exist; without, any well-formed one does.
        self.strict_subscriptions = False
        self.operations: dict[str, Operation] = {}
        self.locked_groups: dict[str, str] = {}  # resource group key -> why
        self.secrets: dict[str, dict[str, Any]] = {}  # datastore key -> secrets, never in GET bodies
        # compute key -> remaining Etag conflicts (Azure's same-name failure after a move)
        self.etag_conflicts: dict[str, int] = {}
        # endpoint key -> list of (emulator time, request count): what Azure Monitor would report
        self.endpoint_traffic: dict[str, list[tuple[float, int]]] = {}
        # workspace key -> compute names deleted from it (Azure trips over them after a move)
        self.deleted_compute_names: dict[str, set[str]] = {}
        # job key -> timeline: when it was submitted and any end forced or scheduled for it
        self.job_runs: dict[str, dict[str, Any]] = {}
        # scheduled ends for jobs whose name matches: {"match": glob, "end": "preempt", "after": running seconds, "partial": bool}
        self.job_schedules: list[dict[str, Any]] = []
        # ARM's own rules (models/authz.py, models/policy.py): what the caller may not do, deny policies,
        # custom role definitions by GUID, principals deleted from the directory
        self.denied_actions: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.role_definitions: dict[str, dict[str, Any]] = {}
        self.deleted_principals: set[str] = set()
        self.directory_read_denied = False  # Microsoft Graph refuses the caller's directory reads
        # "{region}/{name}" -> id of the compute instance holding that name (names are unique per region)
        self.instance_names: dict[str, str] = {}

    def subscription(self, subscription_id: str) -> Subscription:
        sub = self.subscriptions.get(subscription_id.lower())
        if sub is not None:
            return sub
        if self.strict_subscriptions or not ids.GUID_RE.match(subscription_id):
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")
        sub = Subscription(id=subscription_id.lower())
        self.subscriptions[sub.id] = sub
        return sub

    def new_id(self) -> str:
        return str(uuid.uuid4())
