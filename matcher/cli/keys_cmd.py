"""``p4dp keys init``: the platform's list-signing key pair and second-level pseudonym secret."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("keys")
def keys_group() -> None:
    """Create the platform's own keys (signing, second pseudonym level).

    \b
    Example:
      p4dp keys init --out /etc/p4dp/keys
    """


@keys_group.command("init")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the key files (created; existing keys are never overwritten).",
)
def init(out: Path) -> None:
    """Create the platform's keys in a folder, private files with mode 0600.

    Writes platform-signing.key (Ed25519 private key: signs candidate lists),
    platform-signing.pub (its public key: send it to every practice) and
    platform-pseudonym.key (the secret of the second pseudonym level, used by
    'p4dp data receive'). Refuses if any of them exists: to rotate, create keys in a new
    folder (see docs/pseudonymisation.md).

    \b
    Example:
      p4dp keys init --out /etc/p4dp/keys
    """
    from matcher.candidates.keys import init_platform_keys
    from matcher.candidates.signing import load_public_key

    paths = init_platform_keys(out)
    key_id = load_public_key(paths["public"]).key_id
    click.echo(f"signing key {key_id}: {paths['signing']} (private, 0600)")
    click.echo(f"public key {key_id}: {paths['public']} (send to practices)")
    click.echo(f"pseudonym key: {paths['pseudonym']} (private, 0600)")


COMMANDS = [keys_group]
