"""A JSON-RPC 2.0 server over HTTP for the embedded chain, on the loopback interface only.

Other processes (the portal, the indexer, a second CLI command) reach a running
``tutela node`` through this server with web3's ordinary ``HTTPProvider``. It speaks plain
JSON-RPC 2.0 over HTTP POST, single requests and batches, like geth's HTTP endpoint.

Nothing is authenticated, so the server only ever binds to a loopback address, and it
refuses what a web page could send it: a body that is not ``application/json`` (which a
browser cannot send cross-origin without a CORS preflight we never grant) and a ``Host``
header that is not a loopback name (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger_client.chain.embedded import EmbeddedChain
from ledger_client.chain.evm import JsonRpcError
from ledger_client.errors import ConfigurationError

logger = logging.getLogger(__name__)

#: Largest request body accepted: a batch of 100 signed transactions each deploying a
#: contract at EIP-3860's 48 KiB init-code limit is about 10 MiB of hex.
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: Most requests in one batch (geth's default limit).
MAX_BATCH_SIZE = 1000

_LOOPBACK_NAMES = {"localhost"}


def handle_request(chain: EmbeddedChain, request: Any) -> dict[str, Any] | None:
    """Answer one JSON-RPC 2.0 request object; ``None`` for a notification (no ``id``)."""
    if not isinstance(request, dict):
        return _error(None, -32600, "invalid request")
    request_id = request.get("id")
    method = request.get("method")
    if request.get("jsonrpc", "2.0") != "2.0" or not isinstance(method, str):
        return _error(request_id, -32600, "invalid request")
    try:
        result = chain.request(method, request.get("params", []))
    except JsonRpcError as error:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "error": error.to_dict()}
    else:
        response = {"jsonrpc": "2.0", "id": request_id, "result": result}
    return response if "id" in request else None


def handle_payload(chain: EmbeddedChain, payload: Any) -> Any:
    """Answer a decoded JSON-RPC body: one request or a batch. ``None``: nothing to send."""
    if not isinstance(payload, list):
        return handle_request(chain, payload)
    if not payload:
        return _error(None, -32600, "empty batch")
    if len(payload) > MAX_BATCH_SIZE:
        return _error(None, -32600, f"batch too large (more than {MAX_BATCH_SIZE} requests)")
    responses = [handle_request(chain, request) for request in payload]
    return [response for response in responses if response is not None] or None


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], chain: EmbeddedChain) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.chain = chain
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, which web3's requests session relies on.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm the second one waits
    # for the client's delayed ACK, 40 ms on every answer.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        host = self.headers.get("Host", "")
        host_name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not _is_loopback(host_name):
            self._reply(HTTPStatus.FORBIDDEN, b"invalid host\n", "text/plain", close=True)
            return
        if self.headers.get_content_type() != "application/json":
            self._reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, b"use application/json\n", "text/plain")
            return
        try:
            length = int(self.headers["Content-Length"])
        except (TypeError, ValueError):
            self._reply(HTTPStatus.LENGTH_REQUIRED, b"Content-Length required\n", "text/plain")
            return
        if not 0 <= length <= MAX_REQUEST_BYTES:
            # The body stays unread, so this connection cannot carry another request.
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large\n", "text/plain", close=True
            )
            return
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            response: Any = _error(None, -32700, "parse error")
        else:
            response = handle_payload(self.server.chain, payload)
        if response is None:
            self._reply(HTTPStatus.NO_CONTENT, b"", "application/json")
        else:
            self._reply(HTTPStatus.OK, json.dumps(response).encode(), "application/json")

    def do_GET(self) -> None:
        self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"use POST\n", "text/plain", allow=True)

    def _reply(
        self,
        status: HTTPStatus,
        body: bytes,
        ctype: str,
        *,
        close: bool = False,
        allow: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", "POST")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # http.server writes every request to stderr; route it to our logger instead.
        logger.debug("%s " + format, self.address_string(), *args)


def serve(
    chain: EmbeddedChain, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``chain`` over HTTP JSON-RPC on a background thread.

    Args:
        chain: the chain to serve.
        host: a loopback address or ``localhost``.
        port: the TCP port; 0 picks a free one.

    Returns:
        The running server (stop it with ``shutdown()`` then ``server_close()``) and its
        URL, e.g. ``http://127.0.0.1:8545``.

    Raises:
        ConfigurationError: ``host`` is not a loopback address.
        OSError: the port cannot be bound.
    """
    if not _is_loopback(host):
        raise ConfigurationError(f"the embedded node only listens on loopback, not on {host!r}")
    server = _Server((host, port), chain)
    bound_port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound_port}"
    # A short poll interval so that shutdown() returns within 0.1 s rather than 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="tutela-rpc", daemon=True
    )
    thread.start()
    logger.info("serving the embedded chain at %s", url)
    return server, url
