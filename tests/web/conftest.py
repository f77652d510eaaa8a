"""Fixtures of the browser tests: one world (data, ledger, keys, accounts), one real
``p4dp serve`` process and one headless Chromium for the whole module. Without Chromium
(or its driver) every browser test skips with the reason."""

from __future__ import annotations

import pytest
from browser import chromium_missing, start_chromium

from matcher.api.live import live_server
from matcher.web.demo import prepare_world


@pytest.fixture(scope="session")
def web_world(tmp_path_factory):
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    return prepare_world(tmp_path_factory.mktemp("web"), patients=3000)


@pytest.fixture(scope="session")
def web_server(web_world):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in web_world.env.items():
            patch.setenv(name, value)
        with live_server(web_world.database, data=web_world.data) as url:
            yield url


@pytest.fixture(scope="session")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(web_server, downloads):
    driver = start_chromium(downloads)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def shared():
    """What one test leaves for the next (the study the sponsor made, ...)."""
    return {}
