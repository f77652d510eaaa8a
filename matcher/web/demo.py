"""A world to show or test the web pages: synthetic data, a ledger, signing keys, accounts.

    world = prepare_world(Path("/tmp/web"), patients=3000)
    world.tokens["sponsor"]        # an API token per role (sponsor, other_sponsor, steward)
    world.env                      # P4DP_LEDGER and P4DP_SIGNING_KEY for p4dp serve

Used by the browser tests (``tests/web``), ``make web-screenshots`` and ``make serve``.
Everything is written under ``folder``; the data is synthetic.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROLES = {
    "sponsor": ("demo-sponsor", "sponsor", None),
    "other_sponsor": ("demo-other-sponsor", "sponsor", None),
    "steward": ("demo-steward", "steward", None),
}


@dataclass
class World:
    folder: Path
    data: Path
    database: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)

    def add_account(self, name: str, role: str, practice: str | None = None) -> str:
        """A new account's token (``p4dp users add`` on the world's database)."""
        args = ["users", "add", name, "--role", role, "--database", self.database]
        if practice:
            args += ["--practice", practice]
        return p4dp(*args, env=self.env).strip()


def p4dp(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the command line in a subprocess; its standard output (raises on failure)."""
    import os

    command = [sys.executable, "-c", "from matcher.cli import main; main()", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"p4dp {' '.join(args)}: {done.stderr.strip()[-2000:]}")
    return done.stdout


def prepare_world(folder: Path, *, patients: int = 3000, data: Path | None = None) -> World:
    """Data (unless given), a ledger whose steward is the steward account, keys, accounts."""
    folder.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = folder / "data"
        if not (data / "extract.json").exists():
            p4dp("synth", "--patients", str(patients), "--seed", "42", "--out", str(data))
    ledger = folder / "ledger.sqlite"
    ledger.unlink(missing_ok=True)
    p4dp("ledger", "init", "--ledger", str(ledger), "--steward", ROLES["steward"][0])
    keys = folder / "keys"
    if not (keys / "platform-signing.key").exists():
        p4dp("keys", "init", "--out", str(keys))
    database = folder / "api.sqlite"
    database.unlink(missing_ok=True)
    env = {"P4DP_LEDGER": str(ledger), "P4DP_SIGNING_KEY": str(keys / "platform-signing.key")}
    world = World(folder, data, f"sqlite:///{database}", env)
    for key, (name, role, practice) in ROLES.items():
        world.tokens[key] = world.add_account(name, role, practice)
    return world


WORLD_STUDY = "WEB-ADULTS"
ADULTS = f"""study "{WORLD_STUDY}" version 1
title "Adults with type 2 diabetes"
index date 2026-01-01

codes t2d = icd10 E11 and descendants

inclusion
  adult:    age at index >= 18
  diabetes: has diagnosis t2d
"""


def study_with_version(base_url: str, token: str, name: str, criteria: str = ADULTS) -> int:
    """A sponsor's new study with one version (over HTTP); its id."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    study = httpx.post(f"{base_url}/studies", json={"name": name}, headers=headers).json()["id"]
    sub = httpx.post(
        f"{base_url}/studies/{study}/submissions", json={"criteria": criteria}, headers=headers
    )
    sub.raise_for_status()
    return int(study)


def main(argv: list[str] | None = None) -> None:
    """``python -m matcher.web.demo --data DIR``: prepare a world, print the URL and one
    account per role, then run ``p4dp serve`` on it (``make serve``)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m matcher.web.demo", description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="the data directory")
    parser.add_argument("--folder", type=Path, default=Path(".cache/demo-web"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--practice", default="PR0001", help="the demo physician's practice")
    args = parser.parse_args(argv)
    world = prepare_world(args.folder, data=args.data)
    world.tokens["physician"] = world.add_account("demo-physician", "physician", args.practice)
    world.tokens["admin"] = world.add_account("demo-admin", "admin")
    url = f"http://127.0.0.1:{args.port}/"
    print(f"The web pages: {url}  (sign in with one of these tokens; synthetic data)")
    for role, token in world.tokens.items():
        print(f"  {role:<14} {token}")
    print(f"Ledger {world.env['P4DP_LEDGER']} (steward demo-steward); Ctrl-C stops the server.")
    sys.stdout.flush()
    os.environ.update(world.env)
    command = [sys.executable, "-c", "from matcher.cli import main; main()", "serve"]
    command += ["--data", str(world.data), "--database", world.database, "--port", str(args.port)]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
