"""Issue 14 item "--ledger and --signing-key": ``p4dp serve`` takes both as options, with
``P4DP_LEDGER`` and ``P4DP_SIGNING_KEY`` as fallbacks, and hands them to the app's settings."""

from __future__ import annotations

import pytest
import uvicorn
from click.testing import CliRunner

from matcher.api.routes.runs import stop_worker
from matcher.cli import main


@pytest.fixture
def served_app(monkeypatch):
    """Run ``p4dp serve`` without listening: the app it would serve."""
    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    yield apps
    for app in apps:
        stop_worker(app)
        app.state.engine.dispose()


def test_issue14_serve_ledger_and_signing_key_options_win_over_the_environment(
    served_app, tmp_path, monkeypatch
):
    key = tmp_path / "platform.key"
    key.write_text("not read at start")
    monkeypatch.setenv("P4DP_LEDGER", str(tmp_path / "from-env.sqlite"))
    monkeypatch.setenv("P4DP_SIGNING_KEY", str(tmp_path / "from-env.key"))
    database = str(tmp_path / "api.sqlite")
    args = ["serve", "--database", database, "--port", "0"]
    res = CliRunner().invoke(
        main, [*args, "--ledger", str(tmp_path / "l.sqlite"), "--signing-key", str(key)]
    )
    assert res.exit_code == 0, res.output
    settings = served_app[-1].state.settings
    assert (settings.ledger, settings.signing_key) == (str(tmp_path / "l.sqlite"), str(key))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    settings = served_app[-1].state.settings
    assert settings.ledger == str(tmp_path / "from-env.sqlite")
    assert settings.signing_key == str(tmp_path / "from-env.key")


def test_issue14_serve_refuses_a_missing_signing_key_file(served_app, tmp_path):
    res = CliRunner().invoke(
        main, ["serve", "--database", str(tmp_path / "a.sqlite"), "--signing-key", "nope.key"]
    )
    assert res.exit_code == 2 and "nope.key" in res.output and not served_app
