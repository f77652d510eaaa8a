"""Issue 13, the platform's commands end to end: ``p4dp keys init``, ``p4dp data receive``,
``p4dp candidates``; key separation over every platform-side artefact; a dictionary attack
over the whole identifier space without the keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path

import polars as pl
import pytest
from candidates_helpers import PSEUDONYM_PREFIX, first_level, national_ids, practice_token
from click.testing import CliRunner

from matcher.candidates.document import verify_list
from matcher.candidates.keys import load_pseudonym_key, second_level
from matcher.candidates.signing import load_public_key
from matcher.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STUDY = str(EXAMPLES / "hypertension_sprint.p4dp")


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def loop(uploads, tmp_path, monkeypatch) -> dict:
    """Run the platform's part of the loop from the CLI; keep every output."""
    keys = tmp_path / "platform-keys-cli"
    ledger = tmp_path / "ledger" / "ledger.sqlite"  # lists are for stewards, recorded there
    ledger.parent.mkdir()
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    outputs = []
    for args in (
        ("ledger", "init"),
        ("keys", "init", "--out", str(keys)),
        (
            "data",
            "receive",
            *map(str, uploads.values()),
            "--into",
            str(tmp_path / "data"),
            "--key",
            str(keys / "platform-pseudonym.key"),
        ),
        (
            "candidates",
            STUDY,
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "lists"),
            "--signing-key",
            str(keys / "platform-signing.key"),
            "--index-date",
            "2026-06-30",
        ),
    ):
        result = _run(*args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    return {
        "keys": keys,
        "data": tmp_path / "data",
        "lists": tmp_path / "lists",
        "ledger": ledger,
        "out": outputs,
    }


def test_issue13_cli_loop_writes_verifiable_lists(loop):
    keys = loop["keys"]
    for name in ("platform-signing.key", "platform-pseudonym.key"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    public = load_public_key(keys / "platform-signing.pub")
    files = sorted(loop["lists"].glob("*/*.json"))
    assert len(files) == 2
    for file in files:
        checked = verify_list(file, public, practice_id=file.parent.name)
        assert checked.candidates
    log = [json.loads(line) for line in (loop["lists"] / "issued.jsonl").read_text().splitlines()]
    assert {r["list_id"] for r in log} == {json.loads(f.read_text())["list_id"] for f in files}
    assert stat.S_IMODE((loop["lists"] / "issued.jsonl").stat().st_mode) == 0o600
    assert "2 list(s), recorded in the ledger" in loop["out"][3]


def test_issue13_item5_each_issuance_recorded_in_the_ledger(loop, tmp_path) -> None:
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    files = sorted(loop["lists"].glob("*/*.json"))
    docs = [json.loads(f.read_text()) for f in files]
    ledger = Ledger.open(loop["ledger"])
    (query,) = [q for q in ledger.queries() if q.kind == "candidates"]
    assert (query.operator, query.requester, query.role) == (operator_name(),) * 2 + ("steward",)
    assert (query.study_id, query.criteria_hash, query.data_snapshot) == (
        docs[0]["study_id"],
        docs[0]["criteria_hash"],
        docs[0]["data_snapshot"],
    )
    assert query.view.split()[2:] == [d["list_id"] for d in docs]
    released = {r.what: r.true_count for r in ledger.releases() if r.query_id == query.id}
    statuses = [c["status"] for d in docs for c in d["candidates"]]
    assert released == {
        "candidates:lists": 2,
        "candidates:eligible": statuses.count("eligible"),
        "candidates:possibly_eligible": statuses.count("possibly_eligible"),
        "candidates:without_token": 0,
    }
    assert ledger.verify().ok
    blob = loop["ledger"].read_bytes()
    tokens = [c["token"] for d in docs for c in d["candidates"]]
    assert tokens and not [t for t in tokens if t.encode() in blob]  # no token in the ledger
    # a second issuance is a second row; an account that is not a steward issues nothing
    again = _run("candidates", STUDY, "--data", str(loop["data"]), "--out", str(tmp_path / "l3"),
                 "--signing-key", str(loop["keys"] / "platform-signing.key"),
                 "--index-date", "2026-06-30")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert len([q for q in Ledger.open(loop["ledger"]).queries() if q.kind == "candidates"]) == 2
    other = tmp_path / "other-ledger.sqlite"
    assert (
        _run("ledger", "init", "--ledger", str(other), "--steward", "someone-else").exit_code == 0
    )
    refused = _run("candidates", STUDY, "--data", str(loop["data"]), "--out", str(tmp_path / "l4"),
                   "--signing-key", str(loop["keys"] / "platform-signing.key"),
                   "--ledger", str(other))  # fmt: skip
    assert refused.exit_code == 1 and "is not a steward" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "l4").exists()


def _encodings(secret: bytes) -> list[bytes]:
    b64 = base64.b64encode(secret)
    return [
        secret,
        b64,
        b64.rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        secret.hex().encode(),
        secret.hex().upper().encode(),
    ]


def _artefacts(roots: list[Path]) -> list[tuple[str, bytes]]:
    """Every file under ``roots`` as bytes, plus every Parquet string value decoded."""
    out = []
    for root in roots:
        for file in sorted(root.resolve().rglob("*")):
            if not file.is_file():
                continue
            out.append((str(file), file.read_bytes()))
            if file.suffix == ".parquet":
                frame = pl.read_parquet(file)
                for name, dtype in frame.schema.items():
                    if dtype == pl.String:
                        values = "\n".join(frame[name].drop_nulls().to_list())
                        out.append((f"{file}:{name}", values.encode()))
    return out


def test_issue13_key_separation_no_practice_or_authority_key_on_the_platform(
    loop, uploads, side, tmp_path
):
    data = loop["data"]
    roots = [
        data,
        data.parent / f"{data.name}.generations",
        loop["lists"],
        loop["keys"],
        loop["ledger"].parent,
        *uploads.values(),
    ]
    artefacts = _artefacts(roots)
    artefacts += [(f"output {i}", text.encode()) for i, text in enumerate(loop["out"])]
    assert len(artefacts) > 30
    secrets_ = side.secrets_bytes()
    assert len(secrets_) == 3  # the authority's and the two practices'
    for secret in secrets_:
        for needle in _encodings(secret):
            hits = [name for name, blob in artefacts if needle in blob]
            assert not hits, f"a practice-side key appears in {hits}"


def test_issue13_dictionary_attack_without_the_keys_matches_nothing(
    loop, population, side, uploads
):
    """Every national identifier of the space and every local id, through every keyless
    guess (and the platform's own key, which an insider holds), matches no pseudonym and no
    token; the same attack with the practice-side keys finds everyone (the control)."""
    ids = national_ids(population)
    space = [str(1_000_000_000_000 + i) for i in range(10_000)]  # the whole id space used
    assert set(ids["national_id"]) <= set(space)
    locals_ = [f"L{i}" for i in range(1, 10_001)] + [f"M{i}" for i in range(100)]
    platform_key = load_pseudonym_key(loop["keys"] / "platform-pseudonym.key")

    patients = pl.read_parquet(loop["data"] / "patients")
    received = pl.read_parquet(loop["data"] / "received")
    targets = set(patients["patient_id"]) | set(received["patient_id"])
    targets |= set(received["practice_token"])
    for file in loop["lists"].glob("*/*.json"):
        targets |= {c["token"] for c in json.loads(file.read_text())["candidates"]}

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def keyless(value: str) -> list[str]:
        return [
            sha(value),
            sha(PSEUDONYM_PREFIX + value),
            hmac.new(b"", (PSEUDONYM_PREFIX + value).encode(), "sha256").hexdigest(),
            hmac.new(b"", ("v1" + value).encode(), "sha256").hexdigest(),
            sha("v1" + value),
        ]

    guesses: list[str] = []
    for value in [*space, *locals_]:
        plain = keyless(value)
        guesses += plain
        guesses += second_level(platform_key, plain)  # the platform insider's best try
    assert not targets & set(guesses)
    # control: with the authority's key the platform's pseudonyms are found, with a
    # practice's key its tokens are: the attack itself is sound, only the keys are missing
    with_keys = set(second_level(platform_key, [first_level(side.authority, n) for n in space]))
    assert set(patients["patient_id"]) <= with_keys
    practice = sorted(uploads)[0]
    tokens = {practice_token(side.key(practice), "v1", loc) for loc in locals_}
    mine = received.filter(pl.col("practice_id") == practice)["practice_token"]
    assert set(mine) <= tokens


def test_issue13_cli_refusals_exit_1_without_traceback(loop, uploads, tmp_path):
    keys = loop["keys"]
    bad = tmp_path / "bad-upload"
    bad.mkdir()
    (bad / "manifest.json").write_text("{}")
    before = sorted(p.name for p in loop["data"].iterdir())
    data = str(loop["data"])

    def receive(upload: Path, key: str) -> tuple[str, ...]:
        return ("data", "receive", str(upload), "--into", data, "--key", str(keys / key))

    def issue(key: str, *extra: str) -> tuple[str, ...]:
        out = str(tmp_path / "l2")
        return ("candidates", STUDY, "--data", data, "--out", out, "--signing-key",
                str(keys / key), *extra)  # fmt: skip

    cases = [
        (receive(bad, "platform-pseudonym.key"), "upload refused"),
        (
            receive(uploads[sorted(uploads)[0]], "platform-signing.key"),
            "not the 'platform-pseudonym' key",
        ),
        (issue("platform-pseudonym.key"), "not the 'platform-signing' key"),
        (issue("platform-signing.key", "--expires", "soon"), "--expires 'soon'"),
        (("keys", "init", "--out", str(keys)), "refusing to overwrite a key"),
    ]
    for args, message in cases:
        result = _run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output
    assert sorted(p.name for p in loop["data"].iterdir()) == before
    assert not (tmp_path / "l2").exists()
