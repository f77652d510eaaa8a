"""Headless Chromium from the system's packages (Debian: chromium, chromium-driver), driven
with Selenium; :func:`chromium_missing` says why the browser tests cannot run."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"


def _binary() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM) if p), None)


def chromium_missing() -> str | None:
    """Why the browser tests skip (``None``: they can run)."""
    if _binary() is None or shutil.which(DRIVER) is None:
        return (
            "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (make install)"
    return None


def start_chromium(downloads: Path, lang: str = "en-GB"):  # type: ignore[no-untyped-def]
    """A headless Chromium with a 1280×900 window that saves downloads into ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _binary()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        f"--lang={lang}",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "intl.accept_languages": lang}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which(DRIVER)))
    driver.implicitly_wait(0)
    return driver
