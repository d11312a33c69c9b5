"""One way to reach any chain: a web3 over JSON-RPC, embedded node or remote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from web3 import Web3
from web3.providers.rpc import HTTPProvider

from ledger_client.chain.node import open_embedded
from ledger_client.errors import ChainUnavailableError
from ledger_client.settings import Settings

RPC_TIMEOUT = 30


@contextmanager
def connect(settings: Settings) -> Iterator[Web3]:
    """A web3 on the settings' chain: ``--chain URL``, or the data folder's embedded chain.

    Web3's default middleware is left out: it would ask the node for the chain id and fees on
    every transaction, which the sender already knows.

    Raises:
        ChainUnavailableError: the node does not answer.
    """
    if settings.chain_url is not None:
        w3 = Web3(
            HTTPProvider(settings.chain_url, request_kwargs={"timeout": RPC_TIMEOUT}), middleware=[]
        )
        try:
            w3.eth.chain_id  # noqa: B018 - a probe: fail now with a clear message
        except OSError as error:
            raise ChainUnavailableError(
                f"the node at {settings.chain_url} is not answering; start it or check --chain"
            ) from error
        yield w3
        return
    with open_embedded(settings.data_dir) as session:
        yield Web3(session.provider, middleware=[])
