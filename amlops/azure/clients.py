"""Builds the SDK clients for a target: real Azure (DefaultAzureCredential) or the local emulator.

The target comes from the environment (``amlops emulator`` prints the lines to export):
AMLOPS_TARGET=azure|emulator, AMLOPS_EMULATOR_URL, AMLOPS_EMULATOR_CA.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy
from azure.core.pipeline.transport import RequestsTransport

from amlops.azure.errors import InvalidInput
from amlops.azure.retry import GatewayRetryPolicy, Sleep
from amlops.pacing import Budget, remaining_from, request_kind

ARM_URL = "https://management.azure.com"


POOL_SIZE = 32  # connections per client: flows run up to this many Azure calls at once


def _pooled_session() -> requests.Session:
    """A requests session whose pool holds as many connections as amlops runs calls in parallel."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class GatewayTransport(RequestsTransport):
    """azure-core's requests transport with an injectable sleep: retries and LRO polls wait through it."""

    def __init__(self, sleep: Sleep = time.sleep, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sleep = sleep

    def sleep(self, duration: float) -> None:
        self._sleep(duration)


class PacingPolicy(HTTPPolicy):  # type: ignore[type-arg]
    """Waits for the request's slot in ARM's per-subscription budget before it is sent, and reads what ARM
    says is left from the response, so fleets of operations on several workers share one budget
    (amlops.pacing) instead of collecting 429s."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget

    def send(self, request: PipelineRequest) -> PipelineResponse:  # type: ignore[type-arg]
        path = urlsplit(request.http_request.url).path
        parts = path.split("/")
        if len(parts) <= 2 or parts[1].lower() != "subscriptions":
            return self.next.send(request)
        kind = request_kind(request.http_request.method, path)
        lane = self._budget.lane(parts[2], kind)
        lane.enter()
        remaining = None
        try:
            response = self.next.send(request)
            remaining = remaining_from(response.http_response.headers, kind)
            return response
        finally:
            lane.leave(remaining)


class EmulatorCredential(TokenCredential):
    """The emulator checks no signature; a fixed token keeps azure-core's bearer policy happy."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("emulator-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo("emulator-token", int(time.time()) + 3600)


@dataclass(frozen=True)
class Target:
    """Where Azure is: ``azure`` (the real one) or ``emulator`` at a URL with its CA file."""

    kind: str = "azure"
    url: str = ARM_URL
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Target:
        env = dict(os.environ if env is None else env)
        kind = env.get("AMLOPS_TARGET", "azure").lower()
        if kind == "azure":
            return cls()
        if kind != "emulator":
            raise InvalidInput(f"AMLOPS_TARGET must be 'azure' or 'emulator', not {kind!r}.")
        url, ca = env.get("AMLOPS_EMULATOR_URL"), env.get("AMLOPS_EMULATOR_CA")
        if not url or not ca:
            raise InvalidInput("AMLOPS_TARGET=emulator needs AMLOPS_EMULATOR_URL and AMLOPS_EMULATOR_CA (run `amlops emulator`).")
        return cls("emulator", url.rstrip("/"), ca)

    @property
    def is_emulator(self) -> bool:
        return self.kind == "emulator"


@dataclass
class Clients:
    """Builds and caches SDK clients for one target. Construction is cheap; connections are not."""

    target: Target = field(default_factory=Target.from_env)
    sleep: Sleep = time.sleep
    budget: Budget = field(default=None, repr=False)  # type: ignore[assignment]
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _credential: TokenCredential | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = Budget(sleep=self.sleep)
        if self.target.is_emulator and "azure.ai.ml" not in sys.modules:
            # MLClient exports AZUREML_CURRENT_CLOUD, and importing azure.ai.ml resolves it at once: a child
            # process inheriting the emulator's cloud name fails before it could register it. Forget it.
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)

    def credential(self) -> TokenCredential:
        if self._credential is None:
            if self.target.is_emulator:
                self._credential = EmulatorCredential()
            else:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential()
        return self._credential

    def _common(self) -> dict[str, Any]:
        """Pipeline pieces every client gets: our retry decisions and a transport whose sleep we own."""
        transport: dict[str, Any] = {}
        kwargs: dict[str, Any] = {"retry_policy": GatewayRetryPolicy(), "per_retry_policies": [PacingPolicy(self.budget)]}
        if self.target.is_emulator:
            transport["connection_verify"] = self.target.ca_file
            kwargs["polling_interval"] = 0  # the emulator sends retry-after-ms when waiting matters
        kwargs["transport"] = GatewayTransport(sleep=self.sleep, session=_pooled_session(), **transport)
        return kwargs

    def arm(self, subscription: str) -> Any:
        """azure-mgmt-resource's ResourceManagementClient for a subscription."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        def build() -> Any:
            return ResourceManagementClient(self.credential(), subscription, base_url=self.target.url, **self._common())

        return self._cached(("arm", subscription), build)

    def ml(self, subscription: str, resource_group: str, workspace: str | None = None) -> Any:
        """azure-ai-ml's MLClient, scoped to a workspace when one is named."""
        from azure.ai.ml import MLClient

        def build() -> Any:
            kwargs = self._common()
            if self.target.is_emulator:
                kwargs.update(self._emulator_cloud())
            return MLClient(self.credential(), subscription, resource_group, workspace, **kwargs)

        return self._cached(("ml", subscription, resource_group, workspace or ""), build)

    def _emulator_cloud(self) -> dict[str, Any]:
        # Cloud registration is process-global and keeps the first URL for a name: name it by URL.
        url = self.target.url
        name = "AmlopsEmulator" + hashlib.sha1(url.encode()).hexdigest()[:10]
        metadata = {
            "resource_manager": url + "/",
            "azure_portal": url + "/",
            "active_directory": url + "/",
            "aml_resource_id": url + "/",
            "storage_endpoint": "core.windows.net",
            "registry_discovery_endpoint": url + "/",
        }
        return {"cloud": name, "cloud_metadata": metadata}

    def _cached(self, key: tuple[str, ...], build: Any) -> Any:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]
