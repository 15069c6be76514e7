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
