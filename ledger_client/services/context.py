"""The collaborators a use case needs, opened once per command or request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from ledger_client.chain.connection import connect
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.wrappers import (
    CONTRACT_VERSION,
    ChildRegistryContract,
    CrossingLedgerContract,
)
from ledger_client.crypto import MasterKey
from ledger_client.errors import ConfigurationError, NotFoundError
from ledger_client.identity import CommitmentKey
from ledger_client.keys import LocalSigner, unlock_keystore
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
    clock: Callable[[], float] = time.time
    _signers: dict[str, LocalSigner] = field(default_factory=dict)

    @property
    def keystore_password(self) -> str:
        return self.settings.secret(KEYSTORE_PASSWORD).hex()

    def chain_time(self) -> int:
        """Now, as the next block will see it (the node may run ahead of the wall clock)."""
        latest = self.w3.eth.get_block("latest")
        return max(int(self.clock()), int(latest["timestamp"]))

    def signer_for(self, address: str, keystore: dict[str, object]) -> LocalSigner:
        if address not in self._signers:
            self._signers[address] = unlock_keystore(keystore, self.keystore_password)
        return self._signers[address]

    def sender_for(self, member: StaffMember) -> TransactionSender:
        return TransactionSender(
            self.w3, self.signer_for(member.address, member.keystore), self.chain_id
        )


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
            for contract in (registry, ledger):
                if not w3.eth.get_code(contract.address):
                    raise ConfigurationError(f"no contract at {contract.address} on this chain")
                if contract.version() != CONTRACT_VERSION:
                    raise ConfigurationError(
                        f"{contract.contract_name} at {contract.address} is version "
                        f"{contract.version()}, this client speaks {CONTRACT_VERSION}"
                    )
            yield Tutela(
                settings=settings,
                database=database,
                w3=w3,
                chain_id=chain_id,
                registry=registry,
                ledger=ledger,
                master_key=MasterKey.from_bytes(settings.secret(MASTER_KEY)),
                commitment_key=CommitmentKey.from_bytes(settings.secret(COMMITMENT_KEY)),
            )
    finally:
        database.dispose()
