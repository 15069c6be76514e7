"""A client's HTTP session goes through the proxy the environment names (HTTPS_PROXY, NO_PROXY) exactly as requests
would, though it reads the environment once per host rather than on every request (amlops.azure.clients._Session)."""

from __future__ import annotations

import pytest
import requests

from amlops.azure.clients import _pooled_session

URLS = ["https://management.azure.com/subscriptions/x?api-version=1", "https://127.0.0.1:8443/subscriptions/x", "https://graph.microsoft.com/v1.0/x"]


@pytest.mark.parametrize("url", URLS)
def test_a_request_goes_through_the_proxy_requests_would_pick(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    ours = _pooled_session()
    for _ in range(2):  # the first answer for a host, and the one kept
        assert ours.merge_environment_settings(url, {}, None, True, None) == requests.Session().merge_environment_settings(url, {}, None, True, None)


def test_a_corporate_proxy_is_used_for_azure_and_not_for_a_local_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = _pooled_session()
    assert session.merge_environment_settings(URLS[0], {}, None, True, None)["proxies"].get("https") == "http://proxy.corp.example:3128"
    assert session.merge_environment_settings(URLS[1], {}, None, True, None)["proxies"].get("https") is None
