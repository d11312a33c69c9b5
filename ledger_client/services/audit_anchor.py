"""The audit log's head on the ledger: deploying the anchor, anchoring, and checking anchors.

The hash chain of :mod:`ledger_client.services.audit` shows an edited entry, but not a log cut
short (the newest entries deleted) nor one rewritten from scratch with every hash recomputed.
So at intervals the anchorer key writes ``(entry count, hash of that entry)`` to the
``AuditAnchor`` contract; a check reads every ``AuditAnchored`` event back from the chain
itself (never from the index, which sits in the same store as the log) and compares.

Only a count and a hash reach the chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger_client.contracts.artifacts import load_artifact
from ledger_client.contracts.reverts import AuditAnchorNotNewer
from ledger_client.contracts.wrappers import CONTRACT_VERSION, AuditAnchorContract
from ledger_client.errors import ChainError, ConfigurationError, ConflictError
from ledger_client.indexer.rpc import Rpc, RpcError, too_many
from ledger_client.keys import new_keystore
from ledger_client.outbox.outbox import Call
from ledger_client.services.audit import (
    AnchorView,
    AuditStatus,
    log_head,
    walk_entries,
)
from ledger_client.services.context import Prepared, Tutela, open_tutela
from ledger_client.services.setup import FUNDING, needs_funding
from ledger_client.settings import Settings
from ledger_client.store.models import Deployment, StaffMember, StaffRole
from ledger_client.store.portal_models import AuditEntry

logger = logging.getLogger(__name__)

ANCHORED_TOPIC = "0x" + keccak(text="AuditAnchored(uint64,bytes32,address)").hex()
ANCHORER_NAME = "anchorer"


@dataclass(frozen=True)
class ChainAnchor:
    """One ``AuditAnchored`` event as the chain holds it."""

    entry_count: int
    head: str  # hex, no 0x: as the log stores entry hashes
    by: str
    tx_hash: str
    block: int
    log_index: int
    block_time: int | None  # when the node gives it with the log


# ---- deploying where the deployment predates the anchor --------------------------------------


def ensure_audit_anchor(settings: Settings) -> str | None:
    """Deploys the audit anchor for a deployment made before it existed, once.

    Deploys ``AuditAnchor`` from the admin's key, creates the anchorer key, grants it the
    anchor role and saves the address. Each step goes through the outbox under a key named
    after the deployment, so a crash or a second process at the same moment never deploys
    twice. Nothing happens when the contract exists already, the folder is not initialised,
    or the admin's key is not in the store (then an operator must deploy it).

    Returns:
        The audit anchor's address, or None when there is none and none could be deployed.

    Raises:
        ConfigurationError: the contract deployed answers another version.
        ConflictError: a staff member other than the anchorer is called "anchorer".
        ContractRevertError, ChainError: the chain refused or did not answer.
    """
    if not settings.initialised:
        return None
    with open_tutela(settings) as tutela:
        return _ensure(tutela)


def _ensure(tutela: Tutela) -> str | None:
    with tutela.database.transaction() as session:
        deployment = session.scalar(select(Deployment))
        assert deployment is not None  # open_tutela checked
        existing: str | None = deployment.audit_address
        if existing is not None:
            return existing
        admin = _admin(session)
        if admin is None:
            logger.warning("no admin key in the store: the audit anchor cannot be deployed here")
            return None
        scope = (deployment.chain_id, deployment.registry_address)
        admin_signer = tutela.signer_of(admin)
    artifact = load_artifact(AuditAnchorContract.contract_name)
    arguments = encode(
        ["uint48", "address"], [tutela.settings.admin_transfer_delay, admin_signer.address]
    )
    creation = bytes.fromhex(artifact.bytecode.removeprefix("0x")) + arguments
    deploy = tutela.intent("audit-anchor-deploy", {"deployment": list(scope)}, None, *scope)
    (deployed,) = tutela.carry_out(
        deploy, lambda _: Prepared(admin_signer, [Call(to=None, data=creation)])
    )
    address = tutela.receipt_of(deployed)["contractAddress"]
    if address is None:
        raise ChainError(f"the audit anchor's deployment {deployed.tx_hash} created no contract")
    contract = AuditAnchorContract(tutela.w3, str(address))
    if contract.version() != CONTRACT_VERSION:
        raise ConfigurationError(
            f"AuditAnchor at {contract.address} is version {contract.version()}, this client "
            f"speaks {CONTRACT_VERSION}"
        )

    def grant(session: Session) -> Prepared:
        anchorer = _anchorer(session, tutela)
        calls = []
        if not contract.has_role("ANCHOR_ROLE", anchorer.address):
            calls.append(Call.of(contract.grant_role("ANCHOR_ROLE", anchorer.address)))
        if needs_funding(tutela.w3, anchorer.address):
            funding = Call(to=Web3.to_checksum_address(anchorer.address), data=b"", value=FUNDING)
            calls.append(funding)
        return Prepared(admin_signer, calls)

    tutela.carry_out(
        tutela.intent("audit-anchor-grant", {"audit": contract.address}, None, contract.address),
        grant,
    )
    with tutela.database.transaction() as session:
        deployment = session.scalar(select(Deployment).with_for_update())
        assert deployment is not None
        deployment.audit_address = contract.address
    tutela.audit_anchor = contract
    logger.info("deployed the audit anchor at %s", contract.address)
    return contract.address


def _admin(session: Session) -> StaffMember | None:
    return session.scalar(
        select(StaffMember).where(
            StaffMember.role == StaffRole.ADMIN, StaffMember.removed_at.is_(None)
        )
    )


def _anchorer(session: Session, tutela: Tutela) -> StaffMember:
    """The anchorer key: the existing one, or a new one written with the grant's outbox row."""
    member = session.scalar(
        select(StaffMember).where(
            StaffMember.role == StaffRole.ANCHORER, StaffMember.removed_at.is_(None)
        )
    )
    if member is not None:
        return member
    if session.scalar(select(StaffMember).where(StaffMember.name == ANCHORER_NAME)) is not None:
        raise ConflictError(
            f"a staff member is called {ANCHORER_NAME!r}: rename them before the audit anchor "
            "can get its key"
        )
    keystore, address = new_keystore(
        tutela.keystore_password, work_factor=tutela.settings.keystore_work_factor
    )
    member = StaffMember(
        name=ANCHORER_NAME,
        role=StaffRole.ANCHORER,
        address=address,
        keystore=keystore,
        created_at=datetime.now(UTC),
    )
    session.add(member)
    session.flush()
    return member


# ---- anchoring -------------------------------------------------------------------------------


def anchor_audit_head(tutela: Tutela) -> AnchorView | None:
    """Anchors the log's entry count and head on the ledger when it grew since the last anchor.

    Sent through the outbox by the anchorer key; the count is the action's scope, so a repeat
    for the same count (a retry, a second process) is the same action and sends nothing new.

    Returns:
        The anchor written, or None when the log is empty or nothing was added since.

    Raises:
        ConfigurationError: the deployment has no audit anchor yet (run 'tutela audit anchor').
        NotFoundError: no anchorer key in the store.
        ContractRevertError: the chain refused (``AuditAnchorNotNewer`` when another process
            anchored a longer log meanwhile).
    """
    contract = _contract(tutela)
    with tutela.database.reading() as session:
        count, head = log_head(session)
    if head is None or count <= contract.latest().entry_count:
        return None

    def prepare(session: Session) -> Prepared:
        anchorer = _anchorer_only(session)
        call = Call.of(contract.anchor(count, bytes.fromhex(head)))
        return Prepared(tutela.signer_of(anchorer), [call])

    intent = tutela.intent("audit-anchor", {"entry_count": count, "head": head}, None, count)
    (item,) = tutela.carry_out(intent, prepare)
    receipt = tutela.receipt_of(item)
    block = int(receipt["blockNumber"])
    moment = int(tutela.w3.eth.get_block(block)["timestamp"])
    logger.info("anchored the audit log at %d entries in tx %s", count, item.tx_hash)
    return AnchorView(
        entry_count=count,
        head=head,
        tx_hash=str(item.tx_hash),
        block=block,
        at=datetime.fromtimestamp(moment, UTC),
    )


def anchor_if_grown(tutela: Tutela) -> AnchorView | None:
    """The background loop's round: anchors when entries were added; a lost race is no error.

    A deployment without the contract is skipped until ``ensure_audit_anchor`` adds one.
    """
    if _refresh_contract(tutela) is None:
        return None
    try:
        return anchor_audit_head(tutela)
    except AuditAnchorNotNewer:
        # Another process anchored a longer log between our read and our transaction.
        return None


def _anchorer_only(session: Session) -> StaffMember:
    member = session.scalar(
        select(StaffMember).where(
            StaffMember.role == StaffRole.ANCHORER, StaffMember.removed_at.is_(None)
        )
    )
    if member is None:
        raise ConfigurationError("there is no anchorer key: run 'tutela audit anchor' once")
    return member


def _contract(tutela: Tutela) -> AuditAnchorContract:
    contract = _refresh_contract(tutela)
    if contract is None:
        raise ConfigurationError(
            "this deployment has no audit anchor yet: run 'tutela audit anchor' to deploy it"
        )
    return contract


def _refresh_contract(tutela: Tutela) -> AuditAnchorContract | None:
    """The open contract, or the one another process has deployed since this one opened."""
    if tutela.audit_anchor is None:
        with tutela.database.reading() as session:
            address = session.scalar(select(Deployment.audit_address))
        if address is not None:
            tutela.audit_anchor = AuditAnchorContract(tutela.w3, address)
    return tutela.audit_anchor


# ---- checking --------------------------------------------------------------------------------


def audit_status(tutela: Tutela) -> AuditStatus:
    """Checks the log's chain of hashes and every anchor of it, read from the chain itself.

    Entry number ``n`` of an anchor is the ``n``-th entry in id order; it must exist and hash
    to the anchored head. A missing one means the newest entries were deleted; a different
    hash, that the log was rewritten.

    Raises:
        ChainError: the node did not answer.
    """
    contract = _refresh_contract(tutela)
    anchors: list[ChainAnchor] = []
    if contract is not None:
        with tutela.database.reading() as session:
            first_block = session.scalar(select(Deployment.deploy_block)) or 0
        anchors = read_anchors(tutela.w3, contract.address, first_block)
    wanted: dict[int, list[ChainAnchor]] = {}
    for anchor in anchors:
        wanted.setdefault(anchor.entry_count, []).append(anchor)
    mismatches: list[tuple[int, str]] = []
    broken_at = None
    count = 0
    with tutela.database.reading() as session:
        for number, entry, broken in walk_entries(session):
            count = number
            if broken and broken_at is None:
                broken_at = entry.id
            for anchor in wanted.get(number, []):
                if anchor.head != entry.entry_hash:
                    mismatches.append(
                        (
                            number,
                            f"entry {number} (id {entry.id}) hashes to {entry.entry_hash[:16]}…, "
                            f"but the ledger anchored {anchor.head[:16]}… for it "
                            f"({_where(anchor)}): the log was rewritten",
                        )
                    )
    for anchor in anchors:
        if anchor.entry_count > count:
            mismatches.append(
                (
                    anchor.entry_count,
                    f"the ledger anchored {anchor.entry_count} entries ({_where(anchor)}), but "
                    f"the log holds {count}: entries were deleted",
                )
            )
    last = max(anchors, key=lambda a: a.entry_count, default=None)
    return AuditStatus(
        entries=count,
        broken_at=broken_at,
        anchors_checked=len(anchors),
        anchor_mismatch=min(mismatches)[1] if mismatches else None,
        last_anchor=_view(tutela, last) if last is not None else None,
        unanchored=max(0, count - (last.entry_count if last is not None else 0)),
    )


@dataclass(frozen=True)
class AuditSummary:
    """What the auditor's page shows at every look, without walking the whole log.

    The newest anchor is checked against the log (the entry at its count must exist and
    carry its head); an edit further back shows only when every entry is verified
    (:func:`audit_status`, ``tutela audit verify``).
    """

    entries: int
    last_anchor: AnchorView | None
    unanchored: int
    # None when the newest anchor matches (or there is none); else the entry number it names
    # and what is wrong with it: "missing" (entries deleted) or "differs" (log rewritten).
    anchor_problem: tuple[str, int] | None


def audit_summary(tutela: Tutela) -> AuditSummary:
    """The log's size, its newest anchor and whether the log still matches that anchor.

    A count, one ``latest()`` call, one ``eth_getLogs`` on the anchor's indexed count and one
    entry: the same cost on the millionth entry as on the first.

    Raises:
        ChainError: the node did not answer.
    """
    contract = _refresh_contract(tutela)
    with tutela.database.reading() as session:
        count, _ = log_head(session)
        first_block = session.scalar(select(Deployment.deploy_block)) or 0
    record = contract.latest() if contract is not None else None
    if contract is None or record is None or record.entry_count == 0:
        return AuditSummary(count, None, count, None)
    with tutela.database.reading() as session:
        anchored_entry = session.scalar(
            select(AuditEntry.entry_hash)
            .order_by(AuditEntry.id)
            .offset(record.entry_count - 1)
            .limit(1)
        )
    problem: tuple[str, int] | None = None
    if anchored_entry is None:
        problem = ("missing", record.entry_count)
    elif anchored_entry != record.head.hex():
        problem = ("differs", record.entry_count)
    events = read_anchors(tutela.w3, contract.address, first_block, record.entry_count)
    last = (
        _view(tutela, events[-1])
        if events
        else AnchorView(
            record.entry_count,
            record.head.hex(),
            "",
            0,
            datetime.fromtimestamp(record.anchored_at, UTC),
        )
    )
    return AuditSummary(count, last, max(0, count - record.entry_count), problem)


def read_anchors(
    w3: Web3, address: str, first_block: int, entry_count: int | None = None
) -> list[ChainAnchor]:
    """Every ``AuditAnchored`` event of ``address`` from ``first_block``, in chain order;
    with ``entry_count``, only the anchors of that count (an indexed topic: one log).

    Raw ``eth_getLogs``, the range halved where the node finds it too large.

    Raises:
        ChainError: the node refused or did not answer.
    """
    rpc = Rpc(w3)
    last_block = rpc.head()
    ranges = [(first_block, last_block)]
    logs: list[dict[str, Any]] = []
    while ranges:
        low, high = ranges.pop()
        spec = {
            "address": address,
            "topics": [ANCHORED_TOPIC]
            + ([] if entry_count is None else ["0x" + encode(["uint64"], [entry_count]).hex()]),
            "fromBlock": hex(low),
            "toBlock": hex(high),
        }
        try:
            found = rpc.call("eth_getLogs", [spec])
        except RpcError as error:
            if high > low and too_many(error):
                middle = (low + high) // 2
                ranges += [(middle + 1, high), (low, middle)]
                continue
            raise
        if not isinstance(found, list):
            raise ChainError("the node answered eth_getLogs with something else than a list")
        logs.extend(found)
    anchors = [_decode(log) for log in logs if not log.get("removed")]
    return sorted(anchors, key=lambda a: (a.block, a.log_index))


def _decode(log: dict[str, Any]) -> ChainAnchor:
    topics = [bytes.fromhex(str(t).removeprefix("0x")) for t in log["topics"]]
    if len(topics) != 3 or "0x" + topics[0].hex() != ANCHORED_TOPIC:
        raise ChainError(f"the log {log.get('transactionHash')} is not an AuditAnchored event")
    (head,) = decode(["bytes32"], bytes.fromhex(str(log["data"]).removeprefix("0x")))
    (entry_count,) = decode(["uint64"], topics[1])
    (by,) = decode(["address"], topics[2])
    moment = log.get("blockTimestamp")
    return ChainAnchor(
        entry_count=int(entry_count),
        head=bytes(head).hex(),
        by=Web3.to_checksum_address(by),
        tx_hash=str(log["transactionHash"]),
        block=int(str(log["blockNumber"]), 16),
        log_index=int(str(log["logIndex"]), 16),
        block_time=int(str(moment), 16) if moment is not None else None,
    )


def _view(tutela: Tutela, anchor: ChainAnchor) -> AnchorView:
    moment = anchor.block_time
    if moment is None:
        moment = int(tutela.w3.eth.get_block(anchor.block)["timestamp"])
    return AnchorView(
        entry_count=anchor.entry_count,
        head=anchor.head,
        tx_hash=anchor.tx_hash,
        block=anchor.block,
        at=datetime.fromtimestamp(moment, UTC),
    )


def _where(anchor: ChainAnchor) -> str:
    return f"block {anchor.block}, tx {anchor.tx_hash}"
