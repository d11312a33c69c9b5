"""EIP-712 typed data of a guardian's decision, as the CrossingLedger checks it."""

from __future__ import annotations

import copy
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

DOMAIN_NAME = "Tutela CrossingLedger"
DOMAIN_VERSION = "1"

DECISION_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Decision": [
        {"name": "requestId", "type": "uint64"},
        {"name": "guardian", "type": "address"},
        {"name": "approve", "type": "bool"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def decision_message(
    *,
    chain_id: int,
    ledger_address: str,
    request_id: int,
    guardian: str,
    approve: bool,
    deadline: int,
) -> dict[str, Any]:
    """The full EIP-712 message a guardian signs to approve or deny one request.

    The domain binds the chain and the contract; the struct binds the request, the guardian,
    the decision and the deadline, so a signature cannot be replayed elsewhere, used for
    another request, or turned from an approval into a denial.
    """
    return {
        # A copy: callers may edit the message, and must never edit the module's types.
        "types": copy.deepcopy(DECISION_TYPES),
        "primaryType": "Decision",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": ledger_address,
        },
        "message": {
            "requestId": request_id,
            "guardian": guardian,
            "approve": approve,
            "deadline": deadline,
        },
    }


def decision_digest(message: dict[str, Any]) -> bytes:
    """The 32-byte digest of a decision message, equal to the contract's ``decisionDigest``."""
    signable = encode_typed_data(full_message=message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)
