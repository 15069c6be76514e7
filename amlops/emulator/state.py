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
    # Progression of long-running operations, by kind ("compute.create.instance", "compute.create", "move", ...; the
    # most specific wins, lro.progression) or "default": {"mode": "immediate"} | {"mode": "polls", "count": N} |
    # {"mode": "seconds", "seconds": S[, "up_to": T]} (a range: each resource its own place in it). Azure's recorded
    # durations of every kind: lro.azure_durations().
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
    """ARM resources as JSON bodies, keyed by lower-cased id, in insertion order.

    Also indexed by parent collection (``{parent}/{segment}/``), so listing a workspace's computes or
    checking an instance's jobs reads that collection, not every resource of every subscription: a
    platform-scale scenario holds tens of thousands."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._collections: dict[str, dict[str, dict[str, Any]]] = {}
        self._types: dict[str, dict[str, dict[str, Any]]] = {}  # lower-cased type -> its resources (locks checked on every write)

    @staticmethod
    def _collection(key: str) -> str:
        return key.rsplit("/", 1)[0] + "/"

    def get(self, resource_id: str) -> dict[str, Any] | None:
        return self._items.get(ids.key(resource_id))

    def require(self, resource_id: str, kind: str = "Resource") -> dict[str, Any]:
        from amlops.emulator.errors import not_found

        body = self.get(resource_id)
        if body is None:
            raise not_found(resource_id, kind)
        return body

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        key = ids.key(body["id"])
        old, kind = self._items.get(key), str(body.get("type", "")).lower()
        if old is not None and str(old.get("type", "")).lower() != kind:
            self._types.get(str(old.get("type", "")).lower(), {}).pop(key, None)
        self._items[key] = body
        self._collections.setdefault(self._collection(key), {})[key] = body
        self._types.setdefault(kind, {})[key] = body
        return body

    def delete(self, resource_id: str) -> dict[str, Any] | None:
        key = ids.key(resource_id)
        self._collections.get(self._collection(key), {}).pop(key, None)
        body = self._items.pop(key, None)
        if body is not None:
            self._types.get(str(body.get("type", "")).lower(), {}).pop(key, None)
        return body

    def __contains__(self, resource_id: str) -> bool:
        return ids.key(resource_id) in self._items

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._items.values()))

    def children(self, parent_id: str, segment: str) -> list[dict[str, Any]]:
        """Direct children such as ``{workspace}/computes/*``."""
        return list(self._collections.get(ids.key(parent_id) + "/" + segment.lower() + "/", {}).values())

    def of_type(self, resource_type: str) -> list[dict[str, Any]]:
        """Every resource of an ARM type (``Microsoft.Authorization/locks``), in insertion order of each."""
        return list(self._types.get(resource_type.lower(), {}).values())

    def under(self, parent_id: str) -> list[dict[str, Any]]:
        """Everything below a resource (its whole subtree), not the resource itself."""
        prefix = ids.key(parent_id) + "/"
        return [b for k, b in self._items.items() if k.startswith(prefix)]

    def clear(self) -> None:
        self._items.clear()
        self._collections.clear()
        self._types.clear()


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
        self.due: list[tuple[float, str]] = []  # (ready_at, id) of seconds-mode operations: a heap, earliest first
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
