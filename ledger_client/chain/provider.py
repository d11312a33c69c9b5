"""A web3 provider that answers from an in-process :class:`EmbeddedChain`.

It goes through the same JSON-RPC envelope as the HTTP server: the request is encoded
with web3's own JSON encoder and decoded again (so bytes or HexBytes in parameters become
the hex strings a node would see), and the answer is a JSON-RPC response dict. web3's
formatters, middleware and exception mapping therefore run exactly as over HTTP.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from ledger_client.chain.embedded import EmbeddedChain
from ledger_client.chain.rpc_server import handle_payload, handle_request

logger = logging.getLogger(__name__)


class EmbeddedProvider(JSONBaseProvider):
    """Route web3 requests to an :class:`EmbeddedChain` in this process."""

    def __init__(self, chain: EmbeddedChain, **kwargs: Any) -> None:
        """Wrap ``chain``; ``kwargs`` go to web3's ``JSONBaseProvider`` (request caching)."""
        super().__init__(**kwargs)
        self.chain = chain

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Answer one request as a JSON-RPC response dict (errors inside, never raised)."""
        request = json.loads(self.encode_rpc_request(method, params))
        return cast(RPCResponse, handle_request(self.chain, request))

    def make_batch_request(
        self, requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        """Answer a batch; a malformed batch gets one error response, as over HTTP."""
        payload = json.loads(self.encode_batch_rpc_request(requests))
        return cast(list[RPCResponse] | RPCResponse, handle_payload(self.chain, payload))
