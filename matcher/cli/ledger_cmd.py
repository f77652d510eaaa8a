"""``p4dp ledger``: create, check and configure the query ledger (stewards).

The ledger holds the platform's disclosure policy, its stewards, every release with its true
count, and the sketch secret: it is created once with ``p4dp ledger init`` (mode 0600) and
never appears by accident. See ``docs/security.md``.
"""

from __future__ import annotations

import json

import click

from matcher.errors import MatcherError

ledger_option = click.option(
    "--ledger",
    default=None,
    metavar="PATH_OR_URL",
    help="Query ledger: SQLite path or SQLAlchemy URL (made by p4dp ledger init). "
    "Default: $P4DP_LEDGER, else ~/.local/share/p4dp/ledger.sqlite.",
)
"""The ``--ledger`` option shared by the commands that read or write the ledger."""


def _settings(values: tuple[str, ...]) -> dict[str, object]:
    """``--set threshold=11 --set noise=true`` as a mapping of typed values."""
    out: dict[str, object] = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise MatcherError(f"--set {item!r}: write NAME=VALUE, e.g. threshold=11")
        try:
            value = json.loads(text.strip())
        except json.JSONDecodeError:
            value = text.strip()
        out[name.strip()] = value
    return out


@click.group("ledger")
def ledger_group() -> None:
    """Create, verify and configure the query ledger (steward commands).

    \b
    Examples:
      p4dp ledger init --ledger /srv/p4dp/ledger.sqlite --steward alice
      p4dp ledger verify --ledger /srv/p4dp/ledger.sqlite
    """


@ledger_group.command("init")
@ledger_option
@click.option(
    "--steward",
    "stewards",
    multiple=True,
    metavar="ACCOUNT",
    help="A platform account allowed exact counts (repeatable). Default: your account.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A disclosure policy setting (threshold, rounding, noise, noise_sigma, budget...).",
)
def init(ledger: str | None, stewards: tuple[str, ...], settings: tuple[str, ...]) -> None:
    """Create a new ledger with the platform's disclosure policy and its stewards.

    A SQLite ledger is a new file with mode 0600 in an existing folder; an existing ledger is
    never replaced. The policy starts from the defaults (threshold 10, rounding 5, no noise,
    50 requests per 7 days, freeze after 7 repeats in 30 days).

    \b
    Examples:
      p4dp ledger init --ledger /srv/p4dp/ledger.sqlite --steward alice --steward bob
      p4dp ledger init --ledger postgresql+psycopg://p4dp@db/p4dp --set threshold=11
    """
    from matcher.disclosure import DisclosurePolicy
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    operator = operator_name()
    policy = DisclosurePolicy.from_dict(_settings(settings))
    made = Ledger.init(ledger, policy, stewards=stewards or (operator,), created_by=operator)
    click.echo(f"Created ledger {made.where}")
    click.echo(f"stewards: {', '.join(sorted(made.stewards))}")
    click.echo(f"policy: {json.dumps(made.policy.to_dict())}")


@ledger_group.command("verify")
@ledger_option
def verify(ledger: str | None) -> None:
    """Recompute the ledger's hash chain: report edited, added or deleted rows.

    Exit status 0 when intact, 1 otherwise. Write the printed head hash down elsewhere: a
    later verify shows whether the ledger was rolled back past it.

    \b
    Example:
      p4dp ledger verify --ledger /srv/p4dp/ledger.sqlite
    """
    from matcher.disclosure.ledger import verify_ledger
    from matcher.disclosure.store import file_mode_problem

    where, result = verify_ledger(ledger)
    mode = file_mode_problem(ledger)
    problems = result.problems + ([mode] if mode else [])
    if problems:
        click.echo(f"ledger {where}: NOT intact ({len(problems)} problem(s)):")
        for problem in problems:
            click.echo(f"  - {problem}")
        raise SystemExit(1)
    click.echo(
        f"ledger {where}: intact, {result.links} links, head {result.head.seq}:{result.head.hash}"
    )


@ledger_group.command("policy")
@ledger_option
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a setting (stewards only; recorded in the ledger).",
)
def policy(ledger: str | None, settings: tuple[str, ...]) -> None:
    """Show the platform's disclosure policy, or change it (stewards).

    \b
    Examples:
      p4dp ledger policy --ledger /srv/p4dp/ledger.sqlite
      p4dp ledger policy --ledger /srv/p4dp/ledger.sqlite --set threshold=11 --set rounding=5
    """
    from matcher.disclosure import DisclosurePolicy
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    the_ledger = Ledger.open(ledger)
    if settings:
        merged = the_ledger.policy.to_dict() | _settings(settings)
        the_ledger.set_policy(DisclosurePolicy.from_dict(merged), by=operator_name())
    click.echo(json.dumps(the_ledger.policy.to_dict(), indent=2))


@ledger_group.command("steward")
@ledger_option
@click.argument("account")
def steward(ledger: str | None, account: str) -> None:
    """Make ACCOUNT a steward of the ledger (stewards only; recorded).

    \b
    Example:
      p4dp ledger steward carol --ledger /srv/p4dp/ledger.sqlite
    """
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    the_ledger = Ledger.open(ledger)
    the_ledger.add_steward(account, by=operator_name())
    click.echo(f"stewards: {', '.join(sorted(the_ledger.stewards))}")


@ledger_group.command("unfreeze")
@ledger_option
@click.argument("requester")
def unfreeze(ledger: str | None, requester: str) -> None:
    """Lift the freeze of REQUESTER after a review (stewards only; recorded).

    \b
    Example:
      p4dp ledger unfreeze acme-pharma --ledger /srv/p4dp/ledger.sqlite
    """
    from matcher.disclosure.ledger import Ledger
    from matcher.services import operator_name

    Ledger.open(ledger).unfreeze(requester, by=operator_name())
    click.echo(f"requester {requester!r} unfrozen")


COMMANDS = [ledger_group]
