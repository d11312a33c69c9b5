"""A guardian's own key: ``tutela guardian activate``, ``tutela guardian reverify`` and
``tutela crossing decide``. Secrets are asked for here, hidden, or read from stdin; the
library never prompts."""

from __future__ import annotations

import sys

import click

from ledger_client.cli.commands import (
    _as_option,
    _decision_text,
    _key_option,
    _tutela,
    crossing_group,
    guardian_group,
)
from ledger_client.cli.main import Context, common_options
from ledger_client.cli.output import emit
from ledger_client.services import crossings, guardians
from ledger_client.services.guardian_keys import (
    MIN_PASSWORD,
    PIN_LENGTH,
    check_guardian_password,
    check_pin,
)


@guardian_group.command("activate")
@click.option("--document", required=True, help="The guardian's identity document.")
@click.option("--code", default=None, help="The activation code from the registry (asked).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin and the PIN from the second.",
)
@common_options
def guardian_activate(obj: Context, document: str, code: str | None, password_stdin: bool) -> None:
    """A guardian chooses a password and a PIN; the activation code stops working."""
    if password_stdin:
        if code is None:
            raise click.UsageError("--password-stdin needs --code")
        password, pin = read_stdin_lines(2)
    else:
        if code is None:
            code = click.prompt("Activation code", err=True)
        password = click.prompt(
            f"Password (at least {MIN_PASSWORD} characters)",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
        # Refused before the PIN is typed twice: the rule is a sentence away.
        check_guardian_password(password)
        pin = click.prompt(
            f"PIN ({PIN_LENGTH} digits)", hide_input=True, confirmation_prompt=True, err=True
        )
        check_pin(pin, password)
    assert code is not None
    with _tutela(obj) as tutela:
        view = guardians.activate_guardian(
            tutela, document=document, code=code, password=password, pin=pin
        )
    emit(
        obj.as_json,
        {"account": {"id": view.id, "address": view.address, "activated": view.activated}},
        lambda: f"guardian account activated ({view.address}): decide with the PIN or password",
    )


@guardian_group.command("reverify")
@click.argument("card")
@click.option("--document", required=True, help="The document of the guardian seen in person.")
@_as_option
@_key_option
@common_options
def guardian_reverify(
    obj: Context, card: str, document: str, acting_as: str | None, idempotency_key: str | None
) -> None:
    """Give a guardian seen again in person a new key and activation code (lost password or
    PIN); their children's records on chain move to the new key."""
    with _tutela(obj) as tutela:
        code = guardians.reverify_guardian(
            tutela, card, document=document, acting_as=acting_as, idempotency_key=idempotency_key
        )
    emit(
        obj.as_json,
        {"activation_code": code},
        lambda: (
            f"{code.name} ({code.document}) has a new key; the old password and PIN no longer "
            f"work.\nactivation code (shown only this once): {code.code}  valid until "
            f"{code.expires_at}"
        ),
    )


@crossing_group.command("decide")
@click.argument("request")
@click.option(
    "--guardian-document",
    "document",
    required=True,
    metavar="DOCUMENT",
    help="The deciding guardian's document.",
)
@click.option("--approve/--deny", required=True)
@click.option(
    "--secret-stdin",
    is_flag=True,
    help="Read the PIN or password (or the activation code) from the first line of stdin.",
)
@_key_option
@common_options
def crossing_decide(
    obj: Context,
    request: str,
    document: str,
    approve: bool,
    secret_stdin: bool,
    idempotency_key: str | None,
) -> None:
    """A guardian approves or denies with their own key, by a signature the relayer sends."""
    secret = read_stdin_lines(1)[0] if secret_stdin else None
    with _tutela(obj) as tutela:
        # Checked before the PIN is asked for: a mistyped request or document is said first.
        crossings.deciding_account(tutela, request, guardian_document=document)
        if secret is None:
            secret = click.prompt(
                "PIN or password (activation code if not activated yet)",
                hide_input=True,
                err=True,
            )
        view = crossings.decide_as_guardian(
            tutela,
            request,
            guardian_document=document,
            approve=approve,
            secret=secret,
            idempotency_key=idempotency_key,
        )
    emit(obj.as_json, {"decision": view, "status": view.status}, lambda: _decision_text(view))


def read_stdin_lines(count: int) -> list[str]:
    """The first ``count`` lines of stdin, without their line ends, for scripts.

    Raises:
        click.UsageError: stdin ends before ``count`` lines.
    """
    lines = [sys.stdin.readline() for _ in range(count)]
    if not lines[-1]:
        raise click.UsageError(f"stdin must hold {count} line(s)")
    return [line.rstrip("\r\n") for line in lines]
