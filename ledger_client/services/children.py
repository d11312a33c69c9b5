"""The registry desk: enrol a child, show, revoke, add and remove guardians."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_client.cards import format_card, new_card_number, parse_card
from ledger_client.contracts.types import ChildId, ChildStatus, PolicyKind, RevocationReason
from ledger_client.contracts.wrappers import GuardianKey, Policy
from ledger_client.crypto import SealedRecord, open_json, seal_json
from ledger_client.errors import ConflictError, InputError, NotFoundError
from ledger_client.identity import (
    ChildPersonalData,
    GuardianInput,
    birth_date_lookup,
    child_commitment,
    child_name_lookup,
    document_commitment,
    guardian_name_lookup,
    name_birth_lookup,
    normalise_document,
)
from ledger_client.outbox.outbox import Call
from ledger_client.services.context import Prepared, Tutela, staff_acting_as
from ledger_client.services.guardian_keys import ActivationCode, account_for, now_of
from ledger_client.store.models import Child, Guardian, StaffRole


@dataclass(frozen=True)
class GuardianView:
    name: str
    document: str
    email: str
    address: str
    phone: str | None = None


@dataclass(frozen=True)
class ChildView:
    card: str
    child_id: str
    given_name: str
    family_name: str
    birth_date: str
    birth_place: str
    status: str
    policy: str
    guardians: tuple[GuardianView, ...]
    # The codes of the guardian accounts this action created, shown once: they are stored
    # nowhere in clear, so a caller that loses them has the guardian re-verified.
    activation_codes: tuple[ActivationCode, ...] = ()


def parse_policy(text: str, guardian_count: int) -> Policy:
    """``any``, ``all`` or ``K-of-N`` (N must be the number of guardians).

    Raises:
        InputError: anything else, or a K that the guardians cannot meet.
    """
    text = text.strip().lower()
    if text in ("any", "all"):
        return Policy(PolicyKind(text))
    parts = text.split("-of-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        k, n = int(parts[0]), int(parts[1])
        if n != guardian_count:
            raise InputError(f"policy {text}: the child has {guardian_count} guardian(s), not {n}")
        if not 1 <= k <= n:
            raise InputError(f"policy {text}: K must be between 1 and {n}")
        return Policy(PolicyKind.K_OF_N, k)
    raise InputError(f"unknown policy {text!r}: use any, all or K-of-N (for example 2-of-3)")


def enrol_child(
    tutela: Tutela,
    *,
    given_name: str,
    family_name: str,
    birth_date: str,
    birth_place: str,
    guardian_specs: list[str],
    policy: str = "any",
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ChildView:
    """Registers a child on chain and keeps the personal data sealed in the store.

    Each guardian signs with the key of their own account: an account is made, with a new
    key and activation code, for a guardian who has none yet; the codes come back in the
    view's ``activation_codes``, this once.

    Raises:
        InputError: malformed personal data, guardians or policy.
        ConflictError: the same child is registered already.
        ContractRevertError: the registry refused.
    """
    data = ChildPersonalData.parse(
        given_name, family_name, birth_date, birth_place, today=_today(tutela)
    )
    if not guardian_specs:
        raise InputError("a child needs at least one guardian (--guardian 'NAME;DOCUMENT;EMAIL')")
    guardians = [GuardianInput.parse_spec(spec) for spec in guardian_specs]
    documents = [g.document for g in guardians]
    if len(set(documents)) != len(documents):
        raise InputError("the same guardian document is given twice")
    chosen = parse_policy(policy, len(guardians))
    commitment = child_commitment(tutela.commitment_key, data)
    intent = tutela.intent(
        "enrol",
        {
            "child": _child_payload(data),
            "guardians": [g.document for g in guardians],
            "policy": str(chosen),
            "as": acting_as,
        },
        idempotency_key,
        tutela.minute(),
    )

    codes: list[ActivationCode] = []

    def prepare(session: Session) -> Prepared:
        codes.clear()
        duplicate = session.scalar(
            select(Child).where(
                Child.commitment == "0x" + commitment.hex(), Child.status == ChildStatus.ACTIVE
            )
        )
        if duplicate is not None:
            raise ConflictError(
                "a child with the same name, birth date and birth place is registered already "
                f"(card {format_card(duplicate.card_number)})"
            )
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        child_id = ChildId(secrets.token_bytes(16))
        now = now_of(tutela)
        session.add(
            Child(
                child_id=_hex(child_id),
                card_number=_unused_card(session),
                commitment="0x" + commitment.hex(),
                sealed=_seal(tutela, _child_aad(child_id), _child_payload(data)),
                name_birth_lookup=name_birth_lookup(
                    tutela.commitment_key, data.given_name, data.family_name, data.birth_date
                ),
                **_search_lookups(tutela, data),
                status=ChildStatus.ACTIVE,
                policy=str(chosen),
                enrolled_by=registrar.id,
                enrolled_at=now,
            )
        )
        session.flush()
        keys, created = [], []
        for guardian in guardians:
            new = _new_guardian(tutela, session, child_id, guardian, now)
            keys.append(new.key)
            if new.code is not None:
                codes.append(new.code)
                created.append(new.row.account_id)
        call = tutela.registry.register_child(child_id, commitment, keys, chosen)
        context = {"child_id": _hex(child_id), "accounts": created}
        return Prepared(tutela.signer_of(registrar), [Call.of(call, **context)])

    (item,) = tutela.carry_out(intent, prepare)
    view = show_child(tutela, _card_of(tutela, str(item.context["child_id"])))
    return replace(view, activation_codes=tuple(codes))


def show_child(tutela: Tutela, card_text: str) -> ChildView:
    """The child's record: personal data from the store, status and policy from the chain
    (from the store where a background indexer runs: see below).

    Raises:
        InputError: a malformed card number.
        NotFoundError: no child has this card.
    """
    with tutela.database.reading() as session:
        child = _child_by_card(session, card_text)
        child_id = ChildId(bytes.fromhex(child.child_id.removeprefix("0x")))
        data = _open(tutela, _child_aad(child_id), child.sealed)
        guardians = _current_guardians(session, child.child_id)
        guardian_views = tuple(_guardian_view(tutela, child_id, g) for g in guardians)
    if tutela.background_index:
        # A portal page: the store's status and policy, which every change through the
        # outbox writes with its transaction and undoes if it reverts. Asking the registry
        # costs an eth_call per page, the largest part of a border lookup.
        status, policy = child.status, child.policy
    else:
        record = tutela.registry.child_record(child_id)
        status, policy = str(record.status), str(record.policy)
    return ChildView(
        card=format_card(child.card_number),
        child_id=child.child_id,
        given_name=data["given_name"],
        family_name=data["family_name"],
        birth_date=data["birth_date"],
        birth_place=data["birth_place"],
        status=status,
        policy=policy,
        guardians=guardian_views,
    )


def revoke_child(
    tutela: Tutela,
    card_text: str,
    *,
    reason: str,
    code: str = "other",
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ChildView:
    """Revokes a child's record; the free-text reason stays sealed off-chain.

    Raises:
        InputError: no reason, or an unknown reason code.
        NotFoundError: no child has this card.
        ContractRevertError: the record is not active.
    """
    reason = reason.strip()
    if not reason or len(reason) > 500:
        raise InputError("a revocation needs a reason of 1 to 500 characters")
    try:
        reason_code = RevocationReason[code.upper().replace("-", "_")]
    except KeyError as error:
        codes = ", ".join(r.name.lower().replace("_", "-") for r in RevocationReason)
        raise InputError(f"unknown reason code {code!r}: choose one of {codes}") from error
    intent = tutela.intent(
        "revoke",
        {"reason": reason, "code": reason_code.name, "as": acting_as},
        idempotency_key,
        _current_record(tutela, card_text),
    )

    def prepare(session: Session) -> Prepared:
        child = _child_by_card(session, card_text)
        child_id = active_child_id(tutela, child, "it cannot be revoked again")
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        child.status = ChildStatus.REVOKED
        child.revocation_sealed = _seal(
            tutela, _child_aad(child_id) + b":revocation", {"reason": reason}
        )
        call = tutela.registry.revoke_child(child_id, int(reason_code))
        return Prepared(tutela.signer_of(registrar), [Call.of(call, child_id=child.child_id)])

    tutela.carry_out(intent, prepare)
    return show_child(tutela, card_text)


def correct_child(
    tutela: Tutela,
    card_text: str,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    birth_date: str | None = None,
    birth_place: str | None = None,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ChildView:
    """Replaces a record by a corrected one: a new opaque id and card, the same guardians.

    The chain marks the old record superseded and links it to its successor; the old card
    keeps working and leads to the corrected record.

    Raises:
        InputError: malformed data, or nothing that differs from the record.
        NotFoundError: no child has this card.
        ConflictError: the record is not active.
    """
    changes = {
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "birth_place": birth_place,
    }
    intent = tutela.intent(
        "correct",
        {"changes": changes, "as": acting_as},
        idempotency_key,
        _current_record(tutela, card_text),
        tutela.minute(),
    )

    def prepare(session: Session) -> Prepared:
        child = _child_by_card(session, card_text)
        child_id = active_child_id(tutela, child, "only an active record can be corrected")
        current = _open(tutela, _child_aad(child_id), child.sealed)
        merged = {f: str(current[f] if changes[f] is None else changes[f]) for f in changes}
        data = ChildPersonalData.parse(
            merged["given_name"],
            merged["family_name"],
            merged["birth_date"],
            merged["birth_place"],
            today=_today(tutela),
        )
        commitment = child_commitment(tutela.commitment_key, data)
        if "0x" + commitment.hex() == child.commitment:
            raise InputError("nothing to correct: the record already holds these details")
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        successor = ChildId(secrets.token_bytes(16))
        now = now_of(tutela)
        session.add(
            Child(
                child_id=_hex(successor),
                card_number=_unused_card(session),
                commitment="0x" + commitment.hex(),
                sealed=_seal(tutela, _child_aad(successor), _child_payload(data)),
                name_birth_lookup=name_birth_lookup(
                    tutela.commitment_key, data.given_name, data.family_name, data.birth_date
                ),
                **_search_lookups(tutela, data),
                status=ChildStatus.ACTIVE,
                policy=child.policy,
                enrolled_by=registrar.id,
                enrolled_at=now,
            )
        )
        keys = []
        for guardian in _current_guardians(session, child.child_id):
            payload = _open(tutela, _guardian_aad(child_id, guardian.address), guardian.sealed)
            # The same people with the same accounts and keys: a correction is no new guardian.
            session.add(
                Guardian(
                    child_id=_hex(successor),
                    address=guardian.address,
                    document_commitment=guardian.document_commitment,
                    sealed=_seal(tutela, _guardian_aad(successor, guardian.address), payload),
                    name_lookup=guardian_name_lookup(tutela.commitment_key, str(payload["name"])),
                    account_id=guardian.account_id,
                    added_at=now,
                )
            )
            keys.append(GuardianKey.stored(guardian.address, guardian.document_commitment))
        child.status = ChildStatus.SUPERSEDED
        child.successor_id = _hex(successor)
        session.flush()
        policy = tutela.registry.child_record(child_id).policy
        call = tutela.registry.supersede_child(child_id, successor, commitment, keys, policy)
        context = {"child_id": child.child_id, "successor_id": _hex(successor)}
        return Prepared(tutela.signer_of(registrar), [Call.of(call, **context)])

    (item,) = tutela.carry_out(intent, prepare)
    return show_child(tutela, _card_of(tutela, str(item.context["successor_id"])))


def add_guardian(
    tutela: Tutela,
    card_text: str,
    spec: str,
    *,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ChildView:
    """Adds a guardian to an active child.

    A guardian who has no account yet gets one, with a new key and activation code, shown
    once in the view's ``activation_codes``; one who guards another child keeps their key.

    Raises:
        InputError: a malformed guardian.
        ConflictError: the document is already one of the child's guardians.
        NotFoundError: no child has this card.
    """
    guardian = GuardianInput.parse_spec(spec)
    intent = tutela.intent(
        "add-guardian",
        {"guardian": spec.strip(), "as": acting_as},
        idempotency_key,
        _current_record(tutela, card_text),
        tutela.minute(),
    )

    codes: list[ActivationCode] = []

    def prepare(session: Session) -> Prepared:
        codes.clear()
        child = _child_by_card(session, card_text)
        child_id = active_child_id(tutela, child, "its guardians can no longer change")
        commitment = "0x" + document_commitment(tutela.commitment_key, guardian.document).hex()
        if any(
            g.document_commitment == commitment for g in _current_guardians(session, child.child_id)
        ):
            raise ConflictError("this document is already one of the child's guardians")
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        new = _new_guardian(tutela, session, child_id, guardian, now_of(tutela))
        call = tutela.registry.add_guardian(child_id, new.key)
        context: dict[str, object] = {"guardian": new.row.id}
        if new.code is not None:
            codes.append(new.code)
            context["accounts"] = [new.row.account_id]
        return Prepared(tutela.signer_of(registrar), [Call.of(call, **context)])

    tutela.carry_out(intent, prepare)
    return replace(show_child(tutela, card_text), activation_codes=tuple(codes))


def remove_guardian(
    tutela: Tutela,
    card_text: str,
    document: str,
    *,
    acting_as: str | None = None,
    idempotency_key: str | None = None,
) -> ChildView:
    """Removes the guardian with this document from an active child.

    Raises:
        NotFoundError: no child has this card, or no current guardian has this document.
        ContractRevertError: the policy would become impossible to meet.
    """
    normalised = normalise_document(document)
    intent = tutela.intent(
        "remove-guardian",
        {"document": normalised, "as": acting_as},
        idempotency_key,
        _current_record(tutela, card_text),
        tutela.minute(),
    )

    def prepare(session: Session) -> Prepared:
        child = _child_by_card(session, card_text)
        child_id = active_child_id(tutela, child, "its guardians can no longer change")
        guardian = guardian_by_document(tutela, session, child.child_id, normalised)
        registrar = staff_acting_as(session, StaffRole.REGISTRAR, acting_as)
        guardian.removed_at = now_of(tutela)
        call = tutela.registry.remove_guardian(child_id, guardian.address)
        return Prepared(tutela.signer_of(registrar), [Call.of(call, guardian=guardian.id)])

    tutela.carry_out(intent, prepare)
    return show_child(tutela, card_text)


def guardian_by_document(
    tutela: Tutela, session: Session, child_id: str, document: str
) -> Guardian:
    """The child's current guardian holding ``document``.

    Raises:
        InputError: a malformed document number.
        NotFoundError: no current guardian of the child holds it.
    """
    commitment = "0x" + document_commitment(tutela.commitment_key, document).hex()
    for guardian in _current_guardians(session, child_id):
        if guardian.document_commitment == commitment:
            return guardian
    raise NotFoundError("no current guardian of this child has that document")


def child_by_card(session: Session, card_text: str) -> Child:
    return _child_by_card(session, card_text)


def active_child_id(tutela: Tutela, child: Child, action: str) -> ChildId:
    """The child's on-chain id, once the chain confirms the record is active.

    The contracts refuse inactive records too; asking first lets the message name the card
    the user typed rather than the opaque id.

    Raises:
        ConflictError: the record is revoked or superseded.
    """
    child_id = ChildId(bytes.fromhex(child.child_id.removeprefix("0x")))
    status = tutela.registry.child_record(child_id).status
    if status is not ChildStatus.ACTIVE:
        raise ConflictError(f"card {format_card(child.card_number)} is {status}: {action}")
    return child_id


def _child_by_card(session: Session, card_text: str) -> Child:
    card = parse_card(card_text)
    child = session.scalar(select(Child).where(Child.card_number == card))
    if child is None:
        raise NotFoundError(f"no child has card number {format_card(card)}")
    # A card of a corrected record still works: it leads to the record that replaced it.
    while child.successor_id is not None:
        successor = session.get(Child, child.successor_id)
        assert successor is not None  # written in the same transaction as the successor id
        child = successor
    return child


def record_chain(session: Session, child: Child) -> list[Child]:
    """The child's records, oldest first: each corrected record, then the current one."""
    chain = [child]
    while True:
        earlier = session.scalar(select(Child).where(Child.successor_id == chain[0].child_id))
        if earlier is None:
            return chain
        chain.insert(0, earlier)


def _current_guardians(session: Session, child_id: str) -> list[Guardian]:
    query = (
        select(Guardian)
        .where(Guardian.child_id == child_id, Guardian.removed_at.is_(None))
        .order_by(Guardian.id)
    )
    return list(session.scalars(query).all())


@dataclass(frozen=True)
class _NewGuardian:
    key: GuardianKey
    row: Guardian
    code: ActivationCode | None  # set when the guardian's account was made just now


def _new_guardian(
    tutela: Tutela, session: Session, child_id: ChildId, guardian: GuardianInput, now: datetime
) -> _NewGuardian:
    account, code = account_for(tutela, session, guardian, now)
    payload = {
        "name": guardian.name,
        "document": guardian.document,
        "email": guardian.email,
        "phone": guardian.phone,
    }
    row = Guardian(
        child_id=_hex(child_id),
        address=account.address,
        document_commitment=account.document_commitment,
        sealed=_seal(tutela, _guardian_aad(child_id, account.address), payload),
        name_lookup=guardian_name_lookup(tutela.commitment_key, guardian.name),
        account_id=account.id,
        added_at=now,
    )
    session.add(row)
    session.flush()
    key = GuardianKey.stored(account.address, account.document_commitment)
    return _NewGuardian(key, row, code)


def _guardian_view(tutela: Tutela, child_id: ChildId, guardian: Guardian) -> GuardianView:
    data = _open(tutela, _guardian_aad(child_id, guardian.address), guardian.sealed)
    return GuardianView(
        name=data["name"],
        document=data["document"],
        email=data["email"],
        address=guardian.address,
        phone=data.get("phone"),
    )


def open_guardian(tutela: Tutela, child_id: ChildId, guardian: Guardian) -> GuardianView:
    return _guardian_view(tutela, child_id, guardian)


def guardian_payload(tutela: Tutela, guardian: Guardian) -> dict[str, Any]:
    """A guardianship's sealed name, document, e-mail and phone (a read of personal data)."""
    child_id = ChildId(bytes.fromhex(guardian.child_id.removeprefix("0x")))
    return _open(tutela, _guardian_aad(child_id, guardian.address), guardian.sealed)


def seal_guardian_payload(
    tutela: Tutela, child_id_hex: str, address: str, payload: dict[str, Any]
) -> bytes:
    """Seals a guardianship's details for the row of ``address`` on this child record."""
    child_id = ChildId(bytes.fromhex(child_id_hex.removeprefix("0x")))
    return _seal(tutela, _guardian_aad(child_id, address), payload)


def child_data(tutela: Tutela, child: Child) -> dict[str, Any]:
    """A child record's sealed names, birth date and birth place (a read of personal data)."""
    child_id = ChildId(bytes.fromhex(child.child_id.removeprefix("0x")))
    return _open(tutela, _child_aad(child_id), child.sealed)


def _current_record(tutela: Tutela, card_text: str) -> str:
    """The id of the record a card leads to now (an old card leads to its correction)."""
    with tutela.database.transaction() as session:
        return _child_by_card(session, card_text).child_id


def _card_of(tutela: Tutela, child_id: str) -> str:
    with tutela.database.transaction() as session:
        child = session.get(Child, child_id)
        if child is None:
            raise NotFoundError("the record of this action is gone: its transaction failed")
        return child.card_number


def _unused_card(session: Session) -> str:
    while True:
        card = new_card_number()
        if session.scalar(select(Child.card_number).where(Child.card_number == card)) is None:
            return card


def _search_lookups(tutela: Tutela, data: ChildPersonalData) -> dict[str, str]:
    """The investigators' keyed look-ups of a new record's name and birth date."""
    key = tutela.commitment_key
    return {
        "name_lookup": child_name_lookup(key, data.given_name, data.family_name),
        "birth_lookup": birth_date_lookup(key, data.birth_date),
    }


def _child_payload(data: ChildPersonalData) -> dict[str, Any]:
    return {
        "given_name": data.given_name,
        "family_name": data.family_name,
        "birth_date": data.birth_date.isoformat(),
        "birth_place": data.birth_place,
    }


def _seal(tutela: Tutela, aad: bytes, payload: dict[str, Any]) -> bytes:
    return seal_json(tutela.master_key, payload, associated_data=aad).to_bytes()


def _open(tutela: Tutela, aad: bytes, sealed: bytes) -> dict[str, Any]:
    return open_json(tutela.master_key, SealedRecord.from_bytes(sealed), associated_data=aad)


def _child_aad(child_id: ChildId) -> bytes:
    return b"children:" + child_id


def _guardian_aad(child_id: ChildId, address: str) -> bytes:
    return b"guardians:" + child_id + b":" + address.encode()


def _hex(child_id: ChildId) -> str:
    return "0x" + child_id.hex()


def _today(tutela: Tutela) -> date:
    return datetime.fromtimestamp(tutela.clock(), UTC).date()
