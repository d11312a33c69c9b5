"""The chain's clock in the past, walked forward with ``evm_increaseTime``.

A chain created with its genesis a year back stamps each block at the wall clock plus a
negative offset. Moving the offset forward to the moment of each planned step writes the
year's history in order; bringing it back to 0 at the end leaves the chain on the wall
clock, as any other chain.
"""

from __future__ import annotations

import time

from web3 import Web3
from web3.types import RPCEndpoint

from ledger_client.contracts.sender import rpc
from ledger_client.errors import ChainError

INCREASE_TIME = RPCEndpoint("evm_increaseTime")


class ChainClock:
    """The offset of the chain's clock from the wall clock, and the moves that change it."""

    def __init__(self, w3: Web3) -> None:
        """Reads the chain's offset (an increase of 0 answers the total).

        Raises:
            ChainError: the node has no ``evm_increaseTime`` (a production network).
        """
        self._w3 = w3
        self.offset = self._increase(0)

    def now(self) -> float:
        """What the next block's timestamp would be, about: Tutela's clock during a build."""
        return time.time() + self.offset

    def advance_to(self, moment: int) -> None:
        """Moves the clock forward to ``moment``; never back (a chain's time only grows)."""
        ahead = moment - int(time.time()) - self.offset
        if ahead > 0:
            self.offset = self._increase(ahead)

    def finish(self) -> None:
        """Brings the clock back to the wall clock, from where the chain goes on."""
        if self.offset < 0:
            self.offset = self._increase(-self.offset)

    def _increase(self, seconds: int) -> int:
        try:
            answer = rpc(lambda: self._w3.manager.request_blocking(INCREASE_TIME, [seconds]))
        except ChainError as error:
            raise ChainError(f"the node cannot move its clock: {error}") from error
        if isinstance(answer, str):
            return int(answer, 16)
        return int(answer)
