"""``tutela init``: the data folder, its secrets, the admin's key, and the deployed contracts."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

from eth_abi.abi import encode
from sqlalchemy import select
from web3 import Web3

from ledger_client.chain.connection import connect
from ledger_client.chain.node import create_embedded
from ledger_client.contracts.artifacts import load_artifact
from ledger_client.contracts.sender import TransactionSender
from ledger_client.contracts.wrappers import AuditAnchorContract
from ledger_client.errors import ConfigurationError, ConflictError
from ledger_client.keys import LocalSigner, new_keystore, unlock_keystore
from ledger_client.settings import KEYSTORE_PASSWORD, Settings
from ledger_client.store.database import Database
from ledger_client.store.models import Deployment, StaffMember, StaffRole

logger = logging.getLogger(__name__)

# What the embedded chain's genesis gives the admin and the relayer: gas for a lifetime of
# use. On a permissioned network with free gas nothing needs funding.
GENESIS_BALANCE = 10**27
ADMIN_FUNDING = 10**21
FUNDING = 10**19


@dataclass(frozen=True)
class InitResult:
    data_dir: str
    chain_id: int
    registry_address: str
    ledger_address: str
    admin_address: str
    embedded: bool


def initialise(settings: Settings, *, time_offset: int = 0) -> InitResult:
    """Creates the data folder's secrets, store, keys and chain, and deploys the contracts.

    ``time_offset`` (seconds, negative) starts the embedded chain's clock in the past, so
    that a demo can write a history into it (see ``ledger_client.demo_population``).

    Raises:
        ConflictError: the data folder or its database is initialised already.
        ConfigurationError: production without secrets, or an unfunded admin on a paid chain;
            a time offset for a chain that is not embedded.
        ChainUnavailableError: the node does not answer.
    """
    if settings.initialised:
        raise ConflictError(f"{settings.data_dir} is initialised already")
    if time_offset and not settings.embedded:
        raise ConfigurationError("only the embedded chain can start with its clock in the past")
    if not settings.embedded:
        with connect(settings):  # a node that does not answer fails here, before any file
            pass
    existed = settings.data_dir.exists()
    before = set(settings.data_dir.iterdir()) if existed else set()
    try:
        return _initialise(settings, time_offset)
    except BaseException:
        # No half-made data folder stays behind: what this attempt created goes.
        if not existed:
            shutil.rmtree(settings.data_dir, ignore_errors=True)
        else:
            for entry in set(settings.data_dir.iterdir()) - before:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        raise


def _initialise(settings: Settings, time_offset: int = 0) -> InitResult:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.production:
        settings.generate_secrets()
    password = settings.secret(KEYSTORE_PASSWORD).hex()
    database = Database(settings.database_url)
    try:
        if database.is_migrated():
            with database.transaction() as session:
                if session.scalar(select(Deployment)) is not None:
                    raise ConflictError("this database belongs to a deployment already")
        database.migrate()
        work = settings.keystore_work_factor
        admin_keystore, admin_address = new_keystore(password, work_factor=work)
        relayer_keystore, relayer_address = new_keystore(password, work_factor=work)
        anchorer_keystore, anchorer_address = new_keystore(password, work_factor=work)
        if settings.embedded:
            _forget_interrupted_chain(settings)
            create_embedded(
                settings.data_dir,
                genesis_alloc={
                    admin_address: GENESIS_BALANCE,
                    relayer_address: GENESIS_BALANCE,
                    anchorer_address: GENESIS_BALANCE,
                },
                time_offset=time_offset,
            )
        with connect(settings) as w3:
            chain_id = w3.eth.chain_id
            admin = unlock_keystore(admin_keystore, password)
            if not settings.embedded:
                fund_from_funder(w3, settings, chain_id, admin.address)
            sender = TransactionSender(w3, admin, chain_id)
            if not settings.embedded:
                fund(sender, w3, relayer_address)
                fund(sender, w3, anchorer_address)
            registry, block = _deploy(sender, "ChildRegistry", settings, admin)
            ledger, _ = _deploy(sender, "CrossingLedger", settings, admin, registry)
            audit, _ = _deploy(sender, "AuditAnchor", settings, admin)
            # The anchorer signs anchors and nothing else; the admin only grants its role.
            anchors = AuditAnchorContract(w3, audit)
            sender.transact(anchors.grant_role("ANCHOR_ROLE", anchorer_address))
        now = datetime.now(UTC)
        with database.transaction() as session:
            session.add(
                Deployment(
                    chain_id=chain_id,
                    registry_address=registry,
                    ledger_address=ledger,
                    audit_address=audit,
                    deploy_block=block,
                    created_at=now,
                )
            )
            for name, role, keystore, address in (
                ("admin", StaffRole.ADMIN, admin_keystore, admin_address),
                ("relayer", StaffRole.RELAYER, relayer_keystore, relayer_address),
                ("anchorer", StaffRole.ANCHORER, anchorer_keystore, anchorer_address),
            ):
                session.add(
                    StaffMember(
                        name=name, role=role, address=address, keystore=keystore, created_at=now
                    )
                )
        settings.save_chain_choice()
    finally:
        database.dispose()
    logger.info("deployed registry %s and ledger %s on chain %s", registry, ledger, chain_id)
    return InitResult(
        data_dir=str(settings.data_dir),
        chain_id=chain_id,
        registry_address=registry,
        ledger_address=ledger,
        admin_address=admin_address,
        embedded=settings.embedded,
    )


def _forget_interrupted_chain(settings: Settings) -> None:
    """Removes the chain of an ``init`` that was killed before it wrote its configuration.

    Nothing can have used that chain (every other command needs the configuration), and its
    contracts were deployed by an admin key that was never saved.
    """
    for path in settings.data_dir.glob(settings.chain_file.name + "*"):
        logger.warning("an earlier init was interrupted: discarding %s", path.name)
        path.unlink()


def fund(sender: TransactionSender, w3: Web3, account: str, amount: int = FUNDING) -> None:
    """Gives ``account`` gas money from the sender, where gas costs anything."""
    if needs_funding(w3, account, amount):
        sender.send(to=Web3.to_checksum_address(account), data=b"", value=amount)


def needs_funding(w3: Web3, account: str, amount: int = FUNDING) -> bool:
    return not _gas_is_free(w3) and (
        w3.eth.get_balance(Web3.to_checksum_address(account)) < amount // 2
    )


def fund_from_funder(w3: Web3, settings: Settings, chain_id: int, account: str) -> None:
    if _gas_is_free(w3):
        return
    if settings.funder_private_key is None:
        raise ConfigurationError(
            "gas costs money on this chain: set TUTELA_FUNDER_PRIVATE_KEY to an account "
            "with funds, used once to fund Tutela's admin"
        )
    funder = LocalSigner.from_key(bytes.fromhex(settings.funder_private_key.removeprefix("0x")))
    fund(TransactionSender(w3, funder, chain_id), w3, account, ADMIN_FUNDING)


def _gas_is_free(w3: Web3) -> bool:
    latest = w3.eth.get_block("latest")
    return int(latest.get("baseFeePerGas", 0)) == 0 and int(w3.eth.gas_price) == 0


def _deploy(
    sender: TransactionSender, name: str, settings: Settings, admin: LocalSigner, *extra: str
) -> tuple[str, int]:
    artifact = load_artifact(name)
    types = ["uint48", "address"] + ["address"] * len(extra)
    arguments = encode(types, [settings.admin_transfer_delay, admin.address, *extra])
    receipt = sender.deploy(artifact.bytecode, arguments)
    address = receipt["contractAddress"]
    if address is None:
        raise ConfigurationError(f"deploying {name} returned no address")
    return str(address), int(receipt["blockNumber"])
