"""Builds the SDK clients for a target: real Azure (DefaultAzureCredential) or the local emulator.

The target comes from the environment (``amlops emulator`` prints the lines to export):
AMLOPS_TARGET=azure|emulator, AMLOPS_EMULATOR_URL, AMLOPS_EMULATOR_CA; for real Azure, AMLOPS_CLOUD
(AzureCloud, AzureChinaCloud, AzureUSGovernment) picks the cloud's endpoints.

AMLOPS_TIME_SCALE (emulator only): Azure seconds per real second, for an emulator whose clock runs that fast
(a benchmark playing Azure's minutes in seconds). Every wait (retries, operation polls, ARM pacing) is then
reckoned in Azure's seconds and slept scaled: ARM's 10 writes a second and Azure ML's 30 s polls keep their
proportion to the emulator's operations, by the same code that runs against Azure.
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

from amlops.azure import recording
from amlops.azure.retry import GatewayRetryPolicy, Sleep
from amlops.errors import InvalidInput
from amlops.pacing import Budget, remaining_from, request_kind

ARM_URL = "https://management.azure.com"


@dataclass(frozen=True)
class Cloud:
    """One Azure cloud's endpoints. Values from azure-ai-ml's ``_azure_environments.py`` (the cloud table MLClient
    uses) and azure-identity's ``AzureAuthorityHosts``; the Azure ML regional API host is the suffix of each
    cloud's registry discovery endpoint (``{region}.api.azureml.ms`` / ``.api.ml.azure.cn`` / ``.api.ml.azure.us``)."""

    name: str
    resource_manager: str
    authority: str
    storage_suffix: str
    ml_api_suffix: str
    aml_resource_id: str
    # Microsoft Graph's endpoint in this cloud ("National cloud deployments" of Microsoft Graph).
    graph: str = "https://graph.microsoft.com"


CLOUDS = {
    c.name.lower(): c
    for c in (
        Cloud("AzureCloud", ARM_URL, "login.microsoftonline.com", "core.windows.net", "api.azureml.ms", "https://ml.azure.com/"),
        Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn", "core.chinacloudapi.cn", "api.ml.azure.cn", "https://ml.azure.cn/", "https://microsoftgraph.chinacloudapi.cn"),
        Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net", "login.microsoftonline.us", "core.usgovcloudapi.net", "api.ml.azure.us", "https://ml.azure.us/", "https://graph.microsoft.us"),
    )
}


def cloud_from_env(env: dict[str, str] | None = None) -> Cloud:
    name = dict(os.environ if env is None else env).get("AMLOPS_CLOUD", "AzureCloud")
    cloud = CLOUDS.get(name.lower())
    if cloud is None:
        raise InvalidInput(f"AMLOPS_CLOUD must be one of {', '.join(c.name for c in CLOUDS.values())}, not {name!r}.")
    return cloud


POOL_SIZE = 32  # connections per client: flows run up to this many Azure calls at once
# Connections a client keeps for reuse. More calls than POOL_SIZE can be in flight at once (a move's task pool, its
# compute senders and its batches of quick writes run side by side): a connection returned to a full pool is
# dropped and the next call pays a new TLS handshake, so the pool keeps that many.
KEPT_CONNECTIONS = 4 * POOL_SIZE


class _Session(requests.Session):
    """requests' Session, reading the environment's proxy settings once per host instead of on every request.

    For every request requests asks the environment for proxies (``get_environ_proxies``: HTTPS_PROXY, NO_PROXY...),
    which walks all of os.environ four times: a fifth of the CPU of a request through azure-core here, paid by each of
    the thousands of requests of a platform's move (bench/move_downtime.py). Its answer for a scheme, host and port
    does not change while the process's environment does not, so it is kept per those; the rest is requests' own
    ``merge_environment_settings``, line for line (the CA bundle variables are still read per request)."""

    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str | None], dict[str, str]] = {}

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urlsplit(url)
        key = (f"{parts.scheme}://{parts.netloc}".lower(), no_proxy)
        found = self._environ_proxies.get(key)
        if found is None:
            found = self._environ_proxies[key] = requests.utils.get_environ_proxies(url, no_proxy=no_proxy)
        if proxies is not None:
            for k, v in found.items():
                proxies.setdefault(k, v)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        merge = requests.sessions.merge_setting
        return {"proxies": merge(proxies, self.proxies), "stream": merge(stream, self.stream), "verify": merge(verify, self.verify), "cert": merge(cert, self.cert)}


def _pooled_session() -> requests.Session:
    """A requests session whose pool holds as many connections as amlops runs calls in parallel."""
    session = _Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=KEPT_CONNECTIONS)
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


class PacingPolicy(HTTPPolicy):
    """Waits for the request's slot in ARM's per-subscription budget before it is sent, and reads what ARM
    says is left from the response, so fleets of operations on several workers share one budget
    (amlops.pacing) instead of collecting 429s."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget

    def send(self, request: PipelineRequest) -> PipelineResponse:
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


def _time_scale(value: str) -> float:
    try:
        scale = float(value or 1.0)
    except ValueError:
        scale = 0.0
    if scale <= 0:
        raise InvalidInput(f"AMLOPS_TIME_SCALE must be a positive number of Azure seconds per real second, not {value!r}.")
    return scale


@dataclass(frozen=True)
class Target:
    """Where Azure is: ``azure`` (the real one) or ``emulator`` at a URL with its CA file."""

    kind: str = "azure"
    url: str = ARM_URL
    ca_file: str | None = None
    cloud: Cloud = field(default_factory=lambda: CLOUDS["azurecloud"])
    time_scale: float = 1.0  # Azure seconds per real second (AMLOPS_TIME_SCALE): an emulator sped up, never Azure

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Target:
        env = dict(os.environ if env is None else env)
        kind = env.get("AMLOPS_TARGET", "azure").lower()
        scale = _time_scale(env.get("AMLOPS_TIME_SCALE", ""))
        if kind == "azure" and scale != 1.0:
            raise InvalidInput("AMLOPS_TIME_SCALE speeds up an emulator's clock; Azure runs at its own speed. Unset it.")
        if kind == "azure":
            cloud = cloud_from_env(env)
            return cls(url=cloud.resource_manager, cloud=cloud)
        if kind != "emulator":
            raise InvalidInput(f"AMLOPS_TARGET must be 'azure' or 'emulator', not {kind!r}.")
        url, ca = env.get("AMLOPS_EMULATOR_URL"), env.get("AMLOPS_EMULATOR_CA")
        if not url or not ca:
            raise InvalidInput("AMLOPS_TARGET=emulator needs AMLOPS_EMULATOR_URL and AMLOPS_EMULATOR_CA (run `amlops emulator`).")
        return cls("emulator", url.rstrip("/"), ca, time_scale=scale)

    @property
    def is_emulator(self) -> bool:
        return self.kind == "emulator"

    def ml_api_url(self, location: str) -> str:
        """Azure ML's regional data-plane host (run history): ``https://{region}.api.azureml.ms`` on the public
        cloud; the emulator serves it itself."""
        return self.url if self.is_emulator else f"https://{location.lower().replace(' ', '')}.{self.cloud.ml_api_suffix}"

    @property
    def graph_url(self) -> str:
        """Microsoft Graph for this cloud; the emulator serves the little of it amlops reads."""
        return self.url if self.is_emulator else self.cloud.graph

    def blob_url(self, account: str) -> str:
        return f"https://{account}.blob.{self.cloud.storage_suffix}"


@dataclass
class Clients:
    """Builds and caches SDK clients for one target. Construction is cheap; connections are not."""

    target: Target = field(default_factory=Target.from_env)
    sleep: Sleep = time.sleep
    budget: Budget = field(default=None, repr=False)  # type: ignore[assignment]  # None only until __post_init__, whose default needs self.sleep
    _cache: dict[tuple[str, ...], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _credential: TokenCredential | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        scale = self.target.time_scale
        if scale != 1.0:  # waits are reckoned in Azure's seconds, slept in the emulator's
            unscaled = self.sleep
            self.sleep = lambda seconds: unscaled(seconds / scale)
        if self.budget is None:
            self.budget = Budget(sleep=self.sleep, clock=self.clock)
        if self.target.is_emulator and "azure.ai.ml" not in sys.modules:
            # MLClient exports AZUREML_CURRENT_CLOUD, and importing azure.ai.ml resolves it at once: a child
            # process inheriting the emulator's cloud name fails before it could register it. Forget it.
            os.environ.pop("AZUREML_CURRENT_CLOUD", None)

    def clock(self) -> float:
        """Seconds of the target's time (time.monotonic, scaled by AMLOPS_TIME_SCALE): what waits are reckoned in."""
        return time.monotonic() * self.target.time_scale

    @property
    def poll_seconds(self) -> float:
        """The polling interval azure-core's own pollers get (azure-mgmt-resource's moves and resource group deletes):
        azure-mgmt's default (30 s) on Azure; none against the emulator, which, as Azure does, names Retry-After on those operations.
        Azure ML's operations, which carry no Retry-After, are followed by amlops.azure.operations on its own schedule."""
        return 0.0 if self.target.is_emulator else 30.0

    @property
    def retry_backoff(self) -> float:
        """The first wait before sending a failed request again when Azure names no Retry-After (doubling up to 30 s,
        amlops.azure.retry): half a second on Azure; a twentieth against the emulator, which injects its faults
        without the load behind a real one, so rehearsals and chaos trials do not wait for nothing."""
        return 0.05 if self.target.is_emulator else 0.5

    def credential(self) -> TokenCredential:
        if self._credential is None:
            if self.target.is_emulator:
                self._credential = EmulatorCredential()
            else:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential(authority=self.target.cloud.authority)
        return self._credential

    def _common(self) -> dict[str, Any]:
        """Pipeline pieces every client gets: our retry decisions, a transport whose sleep we own, and the
        recorder's hook when AMLOPS_RECORD names a directory (amlops.azure.recording)."""
        transport: dict[str, Any] = {}
        kwargs: dict[str, Any] = {
            "retry_policy": GatewayRetryPolicy(backoff=self.retry_backoff), "per_retry_policies": [PacingPolicy(self.budget)], **recording.hooks()
        }  # fmt: skip
        if self.target.is_emulator:
            transport["connection_verify"] = self.target.ca_file
            kwargs["polling_interval"] = self.poll_seconds
        kwargs["transport"] = GatewayTransport(sleep=self.sleep, session=_pooled_session(), **transport)
        return kwargs

    def arm(self, subscription: str) -> Any:
        """azure-mgmt-resource's ResourceManagementClient for a subscription."""
        from azure.mgmt.resource.resources import ResourceManagementClient

        def build() -> Any:
            scopes = [self.target.url.rstrip("/") + "/.default"]  # the cloud's ARM audience, not the public one
            return ResourceManagementClient(self.credential(), subscription, base_url=self.target.url, credential_scopes=scopes, **self._common())

        return self._cached(("arm", subscription), build)

    def graph(self) -> Any:
        """An azure-core pipeline to Microsoft Graph (its own audience), with our retries and transport."""
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy, CustomHookPolicy

        def build() -> Any:
            common = self._common()
            auth = BearerTokenCredentialPolicy(self.credential(), self.target.graph_url.rstrip("/") + "/.default")
            policies = [auth, common["retry_policy"], CustomHookPolicy(**recording.hooks())]
            return PipelineClient(self.target.graph_url, policies=policies, transport=common["transport"])

        return self._cached(("graph",), build)

    def ml(self, subscription: str, resource_group: str, workspace: str | None = None) -> Any:
        """azure-ai-ml's MLClient, scoped to a workspace when one is named."""
        from azure.ai.ml import MLClient

        def build() -> Any:
            kwargs = self._common()
            if self.target.is_emulator:
                kwargs.update(self._emulator_cloud())
            else:
                kwargs["cloud"] = self.target.cloud.name  # azure-ai-ml's AzureEnvironments names the same three clouds
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
