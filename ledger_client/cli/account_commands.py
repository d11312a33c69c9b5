"""``tutela staff password`` (a staff member's portal login) and ``tutela card-key``."""

from __future__ import annotations

import sys

import click

from ledger_client.cli.commands import staff_group
from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.output import emit
from ledger_client.services import accounts
from ledger_client.services.context import open_tutela


@staff_group.command("password")
@click.argument("name")
@click.option("--totp", is_flag=True, help="Also require a code from an authenticator app.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@common_options
def staff_password(obj: Context, name: str, totp: bool, password_stdin: bool) -> None:
    """Set NAME's portal password (15+ characters, or 8+ with --totp); ends their sessions."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    accounts.check_password_rules(password, with_totp=totp)
    with open_tutela(obj.settings()) as tutela:
        login = accounts.set_staff_password(tutela, name, password, totp=totp)
    emit(
        obj.as_json,
        {"login": login},
        lambda: (
            f"{login.name} can log in to the portal"
            + (
                f"; add this to their authenticator app:\n  {login.totp_uri}"
                if login.totp_uri
                else ""
            )
        ),
    )


@cli.command("card-key")
@common_options
def card_key(obj: Context) -> None:
    """Print the public key that border devices use to check card QR codes offline."""
    from ledger_client.card_qr import card_public_key_hex

    key = card_public_key_hex(obj.settings())
    emit(obj.as_json, {"card_public_key": key}, lambda: f"Ed25519 card-signing key: {key}")
