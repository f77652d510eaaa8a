"""The pieces the browser tests share: the running world, sign-in, waits, screenshots, axe."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).parents[2]


def artefacts() -> Path:
    """Where screenshots and measurements go (``$P4DP_TEST_ARTEFACTS``, else build/)."""
    folder = Path(os.environ.get("P4DP_TEST_ARTEFACTS") or REPO / "build" / "test-artefacts")
    out = folder / "web"
    out.mkdir(parents=True, exist_ok=True)
    return out


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something true; its value (AssertionError after
    ``timeout`` seconds, naming ``what``)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # the page is still changing: try again
            last = exc
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


def css(driver, selector: str):  # type: ignore[no-untyped-def]
    return driver.find_elements("css selector", selector)


def sign_in(driver, base: str, token: str, page: str = "") -> None:  # type: ignore[no-untyped-def]
    """Open the site in a fresh tab state and sign in with ``token``."""
    driver.get(base + "/health")  # the same origin, not the app: a full load comes next
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    driver.get(base + "/" + page)
    field = wait_for(lambda: css(driver, "#token"), what="the sign-in form")[0]
    field.send_keys(token)
    css(driver, "form.card button")[0].click()
    wait_for(
        lambda: css(driver, "#signout") and css(driver, "#signout")[0].is_displayed(),
        what="sign-in",
    )


def go(driver, base: str, fragment: str, ready: str) -> None:  # type: ignore[no-untyped-def]
    """Navigate to ``#fragment`` and wait for the CSS selector ``ready`` on the new page."""
    driver.execute_script("document.getElementById('main').replaceChildren()")
    driver.get(f"{base}/{fragment}")
    wait_for(lambda: css(driver, ready), what=f"{ready} on {fragment}")


def screenshot(driver, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A PNG of the whole page into the artefacts folder."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(height) + 40, 3000)))
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    path = artefacts() / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path


def axe_source() -> str:
    """axe-core, as shipped by the pinned ``axe-selenium-python`` package."""
    import axe_selenium_python

    return (
        Path(axe_selenium_python.__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
    ).read_text()


def accessibility_violations(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's violations on the current page (WCAG 2 A and AA rules)."""
    driver.execute_script(axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', help: String(e)}])));"
    )
    return json.loads(result)


def assert_accessible(driver, page: str) -> None:  # type: ignore[no-untyped-def]
    violations = accessibility_violations(driver)
    summary = [
        f"{v['id']}: {v.get('help')} ({len(v.get('nodes', []))} nodes: "
        + ", ".join(n["target"][0] for n in v.get("nodes", [])[:3])
        + ")"
        for v in violations
    ]
    assert not violations, f"{page}: accessibility problems:\n" + "\n".join(summary)
