"""The sub-commands of ``tutela``; each opens Tutela, calls one service and prints its result."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ledger_client.cli.main import Context, cli, common_options
from ledger_client.cli.output import emit
from ledger_client.outbox import reconciler
from ledger_client.services import actions, children, crossings, staff
from ledger_client.services.background import start_background
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.guardian_keys import ActivationCode
from ledger_client.services.setup import initialise


@contextmanager
def _tutela(obj: Context) -> Iterator[Tutela]:
    with open_tutela(obj.settings()) as tutela:
        yield tutela


def _as_option(function: Any) -> Any:
    return click.option(
        "--as", "acting_as", default=None, metavar="NAME", help="Act as this staff member."
    )(function)


def _key_option(function: Any) -> Any:
    return click.option(
        "--idempotency-key",
        default=None,
        metavar="KEY",
        help="Names this action: run again with the same key, it is finished or reported, "
        "never done twice.",
    )(function)


@cli.command()
@common_options
def init(obj: Context) -> None:
    """Create the data folder, its secrets and keys, and deploy the contracts."""
    result = initialise(obj.settings())
    emit(
        obj.as_json,
        {"init": result},
        lambda: (
            f"Tutela initialised in {result.data_dir}\n"
            f"  chain {result.chain_id} ({'embedded' if result.embedded else 'remote node'})\n"
            f"  ChildRegistry  {result.registry_address}\n"
            f"  CrossingLedger {result.ledger_address}"
        ),
    )


@cli.command()
@click.option("--port", default=8545, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback only, unless you put a proxy in front.",
)
@common_options
def node(obj: Context, port: int, host: str) -> None:
    """Serve the data folder's embedded chain over JSON-RPC."""
    from ledger_client.chain.node import run_node

    settings = obj.settings()
    if not settings.embedded:
        raise click.UsageError("this data folder uses a remote chain; there is no node to serve")

    stop = threading.Event()

    def ready(url: str) -> None:
        start_background(settings, url, stop)
        emit(obj.as_json, {"url": url}, lambda: f"embedded chain serving JSON-RPC on {url}")

    try:
        run_node(settings.data_dir, host=host, port=port, ready=ready, stop=stop)
    finally:
        stop.set()


@cli.command()
@click.option("--follow", is_flag=True, help="Keep reconciling until interrupted.")
@common_options
def reconcile(obj: Context, follow: bool) -> None:
    """Send what the outbox holds, confirm receipts, send again what a node lost."""
    with _tutela(obj) as tutela:
        if follow:
            stop = threading.Event()
            try:
                reconciler.follow(tutela.outbox, stop)
            except KeyboardInterrupt:
                stop.set()
            return
        report = reconciler.reconcile_once(tutela.outbox)
    emit(obj.as_json, {"reconciled": report}, lambda: f"outbox: {report}")


@cli.group("action")
def action_group() -> None:
    """What became of an action: queued, sent, confirmed or failed (and why)."""


@action_group.command("show")
@click.argument("key")
@common_options
def action_show(obj: Context, key: str) -> None:
    """The state of the action sent under an idempotency key."""
    with _tutela(obj) as tutela:
        view = actions.action_status(tutela, key)
    emit(obj.as_json, {"action": view}, lambda: _action_text(view))


@action_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only actions not yet settled.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@common_options
def action_list(obj: Context, open_only: bool, limit: int) -> None:
    """The most recent actions, newest first."""
    with _tutela(obj) as tutela:
        views = actions.list_actions(tutela, open_only=open_only, limit=limit)
    emit(
        obj.as_json,
        {"actions": views},
        lambda: "\n".join(_action_text(v) for v in views) or "no actions",
    )


def _action_text(view: actions.ActionView) -> str:
    where = f" in block {view.block}" if view.block is not None else ""
    why = f": {view.reason}" if view.reason else ""
    return f"{view.key} ({view.purpose}) {view.state}{where}, tx {view.tx_hash}{why}"


@cli.group("staff")
def staff_group() -> None:
    """Staff members and their roles."""


@staff_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(staff.ASSIGNABLE_ROLES))
@_key_option
@common_options
def staff_add(obj: Context, name: str, role: str, idempotency_key: str | None) -> None:
    """Create a staff member's key and grant the role on chain."""
    with _tutela(obj) as tutela:
        member = staff.add_staff(tutela, name, role, idempotency_key=idempotency_key)
    emit(
        obj.as_json,
        {"staff": member},
        lambda: f"{member.name} is a {member.role} ({member.address})",
    )


@staff_group.command("remove")
@click.argument("name")
@_key_option
@common_options
def staff_remove(obj: Context, name: str, idempotency_key: str | None) -> None:
    """Revoke a staff member's role on chain; their key can no longer act."""
    with _tutela(obj) as tutela:
        member = staff.remove_staff(tutela, name, idempotency_key=idempotency_key)
    emit(
        obj.as_json,
        {"staff": member},
        lambda: f"{member.name} no longer holds the {member.role} role ({member.address})",
    )


@staff_group.command("list")
@common_options
def staff_list(obj: Context) -> None:
    """List staff members."""
    with _tutela(obj) as tutela:
        members = staff.list_staff(tutela)
    emit(
        obj.as_json,
        {"staff": members},
        lambda: "\n".join(
            f"{m.name:20} {m.role:17} {m.address}" + ("" if m.active else "  (removed)")
            for m in members
        ),
    )


@cli.group("child")
def child_group() -> None:
    """Children's records."""


@child_group.command("enrol")
@click.option("--given-name", required=True)
@click.option("--family-name", required=True)
@click.option("--birth-date", required=True, metavar="YYYY-MM-DD")
@click.option("--birth-place", required=True)
@click.option(
    "--guardian",
    "guardians",
    multiple=True,
    required=True,
    metavar="'NAME;DOCUMENT;EMAIL[;PHONE]'",
)
@click.option("--policy", default="any", show_default=True, metavar="any|all|K-of-N")
@_as_option
@_key_option
@common_options
def child_enrol(
    obj: Context,
    given_name: str,
    family_name: str,
    birth_date: str,
    birth_place: str,
    guardians: tuple[str, ...],
    policy: str,
    acting_as: str | None,
    idempotency_key: str | None,
) -> None:
    """Enrol a child with guardians; prints the card number and the guardians' codes."""
    with _tutela(obj) as tutela:
        view = children.enrol_child(
            tutela,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            birth_place=birth_place,
            guardian_specs=list(guardians),
            policy=policy,
            acting_as=acting_as,
            idempotency_key=idempotency_key,
        )
    emit(
        obj.as_json,
        {
            "card": view.card,
            "child_id": view.child_id,
            "child": view,
            "activation_codes": view.activation_codes,
        },
        lambda: (
            f"enrolled {view.given_name} {view.family_name}: card {view.card}"
            + _codes_text(view.activation_codes)
        ),
    )


def _codes_text(codes: tuple[ActivationCode, ...]) -> str:
    """The new accounts' codes, for the registry official to hand to each guardian."""
    if not codes:
        return ""
    lines = ["", "activation codes (give each guardian their own; shown only this once):"]
    lines += [f"  {c.name} ({c.document}): {c.code}  valid until {c.expires_at}" for c in codes]
    return "\n".join(lines)


def _child_text(view: children.ChildView) -> str:
    lines = [
        f"card {view.card}  ({view.status})",
        f"  {view.given_name} {view.family_name}, born {view.birth_date} in {view.birth_place}",
        f"  policy: {view.policy}",
    ]
    lines += [f"  guardian: {g.name} ({g.document}, {g.email})" for g in view.guardians]
    return "\n".join(lines)


@child_group.command("show")
@click.argument("card")
@common_options
def child_show(obj: Context, card: str) -> None:
    """Show a child's record."""
    with _tutela(obj) as tutela:
        view = children.show_child(tutela, card)
    emit(obj.as_json, {"child": view}, lambda: _child_text(view))


@child_group.command("correct")
@click.argument("card")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--birth-date", metavar="YYYY-MM-DD")
@click.option("--birth-place")
@_as_option
@_key_option
@common_options
def child_correct(
    obj: Context,
    card: str,
    given_name: str | None,
    family_name: str | None,
    birth_date: str | None,
    birth_place: str | None,
    acting_as: str | None,
    idempotency_key: str | None,
) -> None:
    """Replace a record by a corrected one (new card; the old card still leads to it)."""
    with _tutela(obj) as tutela:
        view = children.correct_child(
            tutela,
            card,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            birth_place=birth_place,
            acting_as=acting_as,
            idempotency_key=idempotency_key,
        )
    emit(
        obj.as_json,
        {"card": view.card, "child_id": view.child_id, "child": view},
        lambda: _child_text(view),
    )


@child_group.command("revoke")
@click.argument("card")
@click.option("--reason", required=True, help="Why; kept sealed off-chain.")
@click.option("--code", default="other", show_default=True, help="Published reason code.")
@_as_option
@_key_option
@common_options
def child_revoke(
    obj: Context,
    card: str,
    reason: str,
    code: str,
    acting_as: str | None,
    idempotency_key: str | None,
) -> None:
    """Revoke a child's record."""
    with _tutela(obj) as tutela:
        view = children.revoke_child(
            tutela,
            card,
            reason=reason,
            code=code,
            acting_as=acting_as,
            idempotency_key=idempotency_key,
        )
    emit(obj.as_json, {"child": view}, lambda: f"card {view.card} is {view.status}")


@cli.group("guardian")
def guardian_group() -> None:
    """A child's guardians."""


@guardian_group.command("add")
@click.argument("card")
@click.argument("guardian", metavar="'NAME;DOCUMENT;EMAIL[;PHONE]'")
@_as_option
@_key_option
@common_options
def guardian_add(
    obj: Context, card: str, guardian: str, acting_as: str | None, idempotency_key: str | None
) -> None:
    """Add a guardian; prints their activation code when they have no account yet."""
    with _tutela(obj) as tutela:
        view = children.add_guardian(
            tutela, card, guardian, acting_as=acting_as, idempotency_key=idempotency_key
        )
    emit(
        obj.as_json,
        {"child": view, "activation_codes": view.activation_codes},
        lambda: _child_text(view) + _codes_text(view.activation_codes),
    )


@guardian_group.command("remove")
@click.argument("card")
@click.argument("document")
@_as_option
@_key_option
@common_options
def guardian_remove(
    obj: Context, card: str, document: str, acting_as: str | None, idempotency_key: str | None
) -> None:
    """Remove the guardian holding DOCUMENT."""
    with _tutela(obj) as tutela:
        view = children.remove_guardian(
            tutela, card, document, acting_as=acting_as, idempotency_key=idempotency_key
        )
    emit(obj.as_json, {"child": view}, lambda: _child_text(view))


@cli.group("crossing")
def crossing_group() -> None:
    """Crossing requests, decisions and outcomes."""


def _crossing_text(view: crossings.CrossingView) -> str:
    rule = "  (companion is a guardian: another guardian or child protection must approve)"
    return (
        f"request {view.request}: {view.direction} of card {view.card} at {view.border_point} "
        f"is {view.status} (expires {view.expires_at})"
        + ("\n" + rule if view.companion_is_guardian and view.status == "pending" else "")
    )


@crossing_group.command("request")
@click.argument("card")
@click.option("--direction", required=True, type=click.Choice(["exit", "entry"]))
@click.option("--border-point", required=True, metavar="CODE")
@click.option("--companion-name", required=True)
@click.option("--companion-document", required=True)
@click.option(
    "--expires-in",
    default=crossings.DEFAULT_EXPIRY_MINUTES,
    show_default=True,
    type=int,
    metavar="MINUTES",
)
@_as_option
@_key_option
@common_options
def crossing_request(
    obj: Context,
    card: str,
    direction: str,
    border_point: str,
    companion_name: str,
    companion_document: str,
    expires_in: int,
    acting_as: str | None,
    idempotency_key: str | None,
) -> None:
    """Ask the guardians to let a child cross (entries need no approval)."""
    with _tutela(obj) as tutela:
        view = crossings.request_crossing(
            tutela,
            card,
            direction=direction,
            border_point=border_point,
            companion_name=companion_name,
            companion_document=companion_document,
            expires_in_minutes=expires_in,
            acting_as=acting_as,
            idempotency_key=idempotency_key,
        )
    emit(
        obj.as_json,
        {"request": view.request, "status": view.status, "crossing": view},
        lambda: _crossing_text(view),
    )


def _decision_text(view: crossings.DecisionView) -> str:
    verb = "approved" if view.approved else "denied"
    aside = (
        ""
        if view.counted
        else " (set aside by the family rule: the guardian travels with the child)"
    )
    return f"request {view.request}: {verb}{aside}; the request is now {view.status}"


@crossing_group.command("protect")
@click.argument("request")
@click.option("--approve/--deny", required=True)
@_as_option
@_key_option
@common_options
def crossing_protect(
    obj: Context, request: str, approve: bool, acting_as: str | None, idempotency_key: str | None
) -> None:
    """A child-protection officer co-approves or denies."""
    with _tutela(obj) as tutela:
        view = crossings.decide_as_protection(
            tutela, request, approve=approve, acting_as=acting_as, idempotency_key=idempotency_key
        )
    emit(obj.as_json, {"decision": view, "status": view.status}, lambda: _decision_text(view))


@crossing_group.command("override")
@click.argument("request")
@click.option("--court-order", required=True, metavar="REFERENCE")
@_as_option
@_key_option
@common_options
def crossing_override(
    obj: Context, request: str, court_order: str, acting_as: str | None, idempotency_key: str | None
) -> None:
    """A child-protection officer overrides by court order."""
    with _tutela(obj) as tutela:
        view = crossings.override_by_court_order(
            tutela,
            request,
            court_order=court_order,
            acting_as=acting_as,
            idempotency_key=idempotency_key,
        )
    emit(obj.as_json, {"crossing": view, "status": view.status}, lambda: _crossing_text(view))


@crossing_group.command("record")
@click.argument("request")
@click.option("--outcome", required=True, type=click.Choice(["crossed", "turned-back"]))
@_as_option
@_key_option
@common_options
def crossing_record(
    obj: Context, request: str, outcome: str, acting_as: str | None, idempotency_key: str | None
) -> None:
    """Record that the child crossed or was turned back."""
    with _tutela(obj) as tutela:
        view = crossings.record_outcome(
            tutela, request, outcome=outcome, acting_as=acting_as, idempotency_key=idempotency_key
        )
    emit(obj.as_json, {"crossing": view, "status": view.status}, lambda: _crossing_text(view))


@crossing_group.command("show")
@click.argument("request")
@common_options
def crossing_show(obj: Context, request: str) -> None:
    """Show a request's status."""
    with _tutela(obj) as tutela:
        view = crossings.show_crossing(tutela, request)
    emit(obj.as_json, {"status": view.status, "crossing": view}, lambda: _crossing_text(view))


@cli.command("history")
@click.argument("card")
@common_options
def history_command(obj: Context, card: str) -> None:
    """A child's crossings, read from the chain."""
    with _tutela(obj) as tutela:
        entries = crossings.history(tutela, card)

    def text() -> str:
        if not entries:
            return "no crossings"
        return "\n".join(
            f"#{e.request} {e.direction} at {e.border_point}: {e.status}"
            f" (block {e.requested_at_block}, tx {e.request_tx[:12]}…)"
            for e in entries
        )

    emit(obj.as_json, {"crossings": entries}, text)


@cli.command("demo")
@common_options
def demo_command(obj: Context) -> None:
    """The whole story, narrated: enrol, family rule, signed approval, crossing, history."""
    from ledger_client.cli.demo import run_demo

    run_demo(obj)


# A guardian's commands: activate, reverify, and decide; registered on the groups above.
from ledger_client.cli import guardian_commands  # noqa: E402, F401
