"""AMLOPS_CLOUD selects every endpoint: ARM, the sign-in authority, storage, Azure ML's regional API."""

from __future__ import annotations

import pytest

from amlops.azure.clients import Clients, Target
from amlops.errors import InvalidInput

SUB = "11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    ("cloud", "arm", "authority", "blob", "ml_api"),
    [  # azure-ai-ml's _azure_environments.py and azure-identity's AzureAuthorityHosts
        ("AzureCloud", "https://management.azure.com", "login.microsoftonline.com", "https://acct.blob.core.windows.net", "https://westeurope.api.azureml.ms"),
        ("AzureChinaCloud", "https://management.chinacloudapi.cn", "login.chinacloudapi.cn", "https://acct.blob.core.chinacloudapi.cn", "https://westeurope.api.ml.azure.cn"),
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "login.microsoftonline.us", "https://acct.blob.core.usgovcloudapi.net", "https://westeurope.api.ml.azure.us"),
    ],
)
def test_each_cloud_gets_its_own_endpoints(cloud: str, arm: str, authority: str, blob: str, ml_api: str) -> None:
    target = Target.from_env({"AMLOPS_TARGET": "azure", "AMLOPS_CLOUD": cloud})
    assert (target.url, target.cloud.authority, target.blob_url("acct"), target.ml_api_url("westeurope")) == (arm, authority, blob, ml_api)
    client = Clients(target).arm(SUB)
    assert client._config.base_url == arm and client._config.credential_scopes == [arm + "/.default"]


def test_an_unknown_cloud_is_refused_with_the_names_to_use() -> None:
    with pytest.raises(InvalidInput, match="AzureCloud, AzureChinaCloud, AzureUSGovernment"):
        Target.from_env({"AMLOPS_TARGET": "azure", "AMLOPS_CLOUD": "Mars"})


def test_a_time_scale_speeds_up_every_wait_against_an_emulator_and_is_refused_for_azure() -> None:
    """AMLOPS_TIME_SCALE: waits reckoned in Azure's seconds (retries, polls, ARM pacing) are slept scaled, and the
    pacing clock runs as fast, so ARM's budget keeps its proportion to an emulator whose clock runs that fast."""
    env = {"AMLOPS_TARGET": "emulator", "AMLOPS_EMULATOR_URL": "https://127.0.0.1:1", "AMLOPS_EMULATOR_CA": "/ca.pem", "AMLOPS_TIME_SCALE": "60"}
    slept: list[float] = []
    clients = Clients(Target.from_env(env), sleep=slept.append)
    clients.sleep(30.0)  # a compute poll's interval
    assert slept == [0.5]
    assert clients.budget.lane(SUB, "writes").clock() == pytest.approx(clients.clock(), abs=1.0)
    with pytest.raises(InvalidInput, match="AMLOPS_TIME_SCALE"):
        Target.from_env({"AMLOPS_TARGET": "azure", "AMLOPS_TIME_SCALE": "60"})
    with pytest.raises(InvalidInput, match="positive"):
        Target.from_env({**env, "AMLOPS_TIME_SCALE": "fast"})
