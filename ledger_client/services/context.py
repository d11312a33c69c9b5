"""The collaborators a use case needs, opened once per command or request."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3
from web3.types import TxReceipt

from ledger_client.chain.connection import connect
from ledger_client.contracts.sender import TransactionSender, rpc
from ledger_client.contracts.wrappers import (
    CONTRACT_VERSION,
    AuditAnchorContract,
    ChildRegistryContract,
    CrossingLedgerContract,
)
from ledger_client.crypto import MasterKey
from ledger_client.errors import ConfigurationError, NotFoundError
from ledger_client.identity import CommitmentKey
from ledger_client.indexer.sync import index_once
from ledger_client.indexer.target import IndexerBusyError, load_target
from ledger_client.keys import LocalSigner, Signer, unlock_keystore
from ledger_client.outbox.models import OutboxItem
from ledger_client.outbox.outbox import Call, Intent, Outbox
from ledger_client.services.effects import store_effects
from ledger_client.settings import COMMITMENT_KEY, KEYSTORE_PASSWORD, MASTER_KEY, Settings
from ledger_client.store.database import Database
from ledger_client.store.models import Deployment, StaffMember, StaffRole


@dataclass
class Tutela:
    """An open Tutela: settings, store, chain, contracts, keys and a clock."""

    settings: Settings
    database: Database
    w3: Web3
    chain_id: int
    registry: ChildRegistryContract
    ledger: CrossingLedgerContract
    master_key: MasterKey
    commitment_key: CommitmentKey
    outbox: Outbox
    # None where the deployment predates the audit anchor (``ensure_audit_anchor`` adds it).
    audit_anchor: AuditAnchorContract | None = None
    clock: Callable[[], float] = time.time
    # True where a background indexer follows the chain (``tutela serve``/``worker``): reads
    # take the index as it is, and only writes bring it up to date, so a page costs no
    # round trip to the node and its writer still reads its own write at once.
    background_index: bool = False
    _signers: dict[str, LocalSigner] = field(default_factory=dict)

    @property
    def keystore_password(self) -> str:
        return self.settings.secret(KEYSTORE_PASSWORD).hex()

    def chain_time(self) -> int:
        """Now, as the next block will see it (the node may run ahead of the wall clock)."""
        latest = rpc(lambda: self.w3.eth.get_block("latest"))
        return max(int(self.clock()), int(latest["timestamp"]))

    def read_time(self) -> int:
        """Now, for judging what a read shows (time left, expired): the chain's time, or the
        wall clock where a background indexer runs and a page must not ask the node."""
        return int(self.clock()) if self.background_index else self.chain_time()

    def signer_for(self, address: str, keystore: dict[str, object]) -> LocalSigner:
        if address not in self._signers:
            self._signers[address] = unlock_keystore(keystore, self.keystore_password)
        return self._signers[address]

    def signer_of(self, member: StaffMember) -> LocalSigner:
        return self.signer_for(member.address, member.keystore)

    def sender_for(self, member: StaffMember) -> TransactionSender:
        """A direct sender, bypassing the outbox: for set-up and for tests of the contracts."""
        return TransactionSender(self.w3, self.signer_of(member), self.chain_id)

    def derived_key(self, purpose: str, *parts: object) -> str:
        """An idempotency key named after the business action, with its details hashed.

        Keyed, so that a key in the store or a log says nothing about the child or companion.
        """
        text = "\x1f".join(str(part) for part in parts)
        digest = hmac.new(self.commitment_key.to_bytes(), text.encode(), hashlib.sha256)
        return f"{purpose}:{digest.hexdigest()[:32]}"

    def intent(
        self,
        purpose: str,
        arguments: dict[str, object],
        idempotency_key: str | None,
        *scope: object,
    ) -> Intent:
        """The caller's key, or one derived from the action: its arguments and ``scope``.

        ``scope`` names what makes a repeat a retry rather than a new action (the record
        acted on, the minute); equal arguments within it are the same action.
        """
        key = idempotency_key or self.derived_key(
            purpose, json.dumps(arguments, sort_keys=True, default=str), *scope
        )
        return Intent(key=key, purpose=purpose, arguments=arguments)

    def minute(self) -> int:
        """The current minute, for keys of actions that may rightly be repeated later."""
        return int(self.clock()) // 60

    def carry_out(self, intent: Intent, prepare: Callable[[Session], Prepared]) -> list[OutboxItem]:
        """Runs an action once: the first time through the outbox, later by finding it.

        ``prepare`` checks the action against the store, writes its store rows and returns
        the transaction(s); it runs only when the key is new, in the same database
        transaction as the outbox rows, so either all of them are written or none.

        Raises:
            ConflictError: the key was used for another action.
            ContractRevertError: the contract refused (before anything was written, or
                when the mined transaction reverted; then its effects are undone).
            ChainError: not confirmed in time; the action stays queued.
        """
        with self.database.transaction() as session:
            first = self.outbox.find(session, intent)
            if first is None:
                prepared = prepare(session)
                if not prepared.calls:
                    return []
                actions = [(intent, prepared.calls[0])] + [
                    (Intent(f"{intent.key}#{n}", intent.purpose + "+", intent.arguments), call)
                    for n, call in enumerate(prepared.calls[1:], start=2)
                ]
                keys = [i.key for i, _ in actions]
                self.outbox.enqueue_many(session, prepared.signer, actions)
            else:
                keys = [first.key]
        settled = [self.outbox.settle(key) for key in keys]
        if self.background_index:
            # The page after a write shows it, without waiting for the background indexer.
            self.refresh_index(after_write=True)
        return settled

    def refresh_index(self, *, after_write: bool = False) -> None:
        """Brings the event index up to the chain's head before a read.

        About a millisecond when nothing is new. When another process is indexing (the node's
        background indexer holds PostgreSQL's lock), its work is what the read sees. Where a
        background indexer runs, only a write (``after_write``) refreshes.
        """
        if self.background_index and not after_write:
            return
        with suppress(IndexerBusyError):
            index_once(
                self.database,
                self.w3,
                load_target(self.database),
                confirmations=self.settings.confirmations,
            )

    def receipt_of(self, item: OutboxItem) -> TxReceipt:
        return rpc(lambda: self.w3.eth.get_transaction_receipt(HexBytes(item.tx_hash)))


@dataclass(frozen=True)
class Prepared:
    """What an action sends: one transaction, or a few from the same account."""

    signer: Signer
    calls: list[Call]


def staff_acting_as(session: Session, role: StaffRole, name: str | None) -> StaffMember:
    """The staff member who acts: the one named, or the only one holding ``role``.

    Raises:
        NotFoundError: nobody of that name or role.
        ConfigurationError: several members hold the role and none was named.
    """
    if name is not None:
        member = session.scalar(select(StaffMember).where(StaffMember.name == name))
        if member is None:
            raise NotFoundError(f"there is no staff member called {name!r}")
        if member.removed_at is not None:
            raise ConfigurationError(f"{name} was removed from the staff and can no longer act")
        if member.role != role:
            raise ConfigurationError(f"{name} is a {member.role}, not a {role}: {role} needed")
        return member
    members = session.scalars(
        select(StaffMember).where(StaffMember.role == role, StaffMember.removed_at.is_(None))
    ).all()
    if not members:
        raise NotFoundError(
            f"there is no {role} yet: add one with 'tutela staff add NAME --role {role}'"
        )
    if len(members) > 1:
        raise ConfigurationError(f"several staff members are {role}s: choose one with --as NAME")
    return members[0]


@contextmanager
def open_tutela(settings: Settings) -> Iterator[Tutela]:
    """Opens the store and the chain of an initialised data folder and checks they match.

    Raises:
        ConfigurationError: not initialised, or the chain is not the one deployed to.
        ChainUnavailableError: the node cannot be reached.
    """
    if not settings.initialised:
        raise ConfigurationError(
            f"{settings.data_dir} is not a Tutela data folder yet: run 'tutela init' first"
        )
    database = Database(settings.database_url)
    try:
        with database.transaction() as session:
            deployment = session.scalar(select(Deployment))
        if deployment is None:
            raise ConfigurationError("the store holds no deployment: run 'tutela init' again")
        with connect(settings) as w3:
            chain_id = w3.eth.chain_id
            if chain_id != deployment.chain_id:
                raise ConfigurationError(
                    f"the node serves chain {chain_id}, but the contracts were deployed on "
                    f"chain {deployment.chain_id}"
                )
            registry = ChildRegistryContract(w3, deployment.registry_address)
            ledger = CrossingLedgerContract(w3, deployment.ledger_address)
            audit_anchor = (
                AuditAnchorContract(w3, deployment.audit_address)
                if deployment.audit_address is not None
                else None
            )
            for contract in (registry, ledger, *([audit_anchor] if audit_anchor else [])):
                if not w3.eth.get_code(contract.address):
                    raise ConfigurationError(f"no contract at {contract.address} on this chain")
                if contract.version() != CONTRACT_VERSION:
                    raise ConfigurationError(
                        f"{contract.contract_name} at {contract.address} is version "
                        f"{contract.version()}, this client speaks {CONTRACT_VERSION}"
                    )
            commitment_key = CommitmentKey.from_bytes(settings.secret(COMMITMENT_KEY))
            tutela = Tutela(
                settings=settings,
                database=database,
                w3=w3,
                chain_id=chain_id,
                registry=registry,
                ledger=ledger,
                audit_anchor=audit_anchor,
                master_key=MasterKey.from_bytes(settings.secret(MASTER_KEY)),
                commitment_key=commitment_key,
                outbox=Outbox(
                    database,
                    w3,
                    chain_id,
                    fingerprint_key=commitment_key.to_bytes(),
                    # Resolved when called, by which time ``tutela`` exists.
                    signer_for=lambda address: _signer_by_address(tutela, address),
                    effects=store_effects(ledger),
                    confirmations=settings.confirmations,
                ),
            )
            yield tutela
    finally:
        database.dispose()


def _signer_by_address(tutela: Tutela, address: str) -> Signer:
    """A staff key, unlocked to sign an outbox transaction again at a new nonce."""
    with tutela.database.transaction() as session:
        member = session.scalar(select(StaffMember).where(StaffMember.address == address))
    if member is None:
        raise NotFoundError(f"no staff key for {address}: the outbox cannot sign for it")
    return tutela.signer_of(member)
