"""Issue 15: on a machine without Chromium the browser tests skip, saying why."""

from __future__ import annotations

import shutil

import browser


def test_issue15_without_chromium_the_browser_tests_skip_with_the_reason(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    reason = browser.chromium_missing()
    assert reason is not None and "chromium-driver" in reason


def test_issue15_ci_installs_chromium_and_its_driver_from_debian():
    from web_harness import REPO

    ci = (REPO / ".ci" / "run").read_text()
    assert "apt-get install" in ci and "chromium chromium-driver" in ci
