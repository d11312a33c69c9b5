"""Submits crossing requests through the outbox: the process the fault tests kill and restart.

    python -m tests.support.submitter --data-dir D [--chain URL] --count N --key-prefix P
        [--children C] [--patience SECONDS]

Request ``n`` carries the idempotency key ``P-n`` and goes to the ``n mod C``-th of the first
``C`` enrolled children (in card order). Each confirmed request prints one line,
``P-n <request number>``, flushed at once so that a test reading the pipe sees progress as
it happens. A restart simply starts again from 0: the outbox makes the repeats no-ops.

Without ``--patience`` the first Tutela error ends the run (one ``error:`` line on stderr,
exit 1), as it would end a CLI command. With it, an unreachable node or database is waited
out for up to that many seconds, then the same request is tried again, as a portal would on
the next click: the tests that stop the node or the database use that.

:class:`Submitter` is the tests' handle on such a process. No pytest here, so that a bench
can drive the same process.
"""

from __future__ import annotations

import argparse
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ledger_client.cards import format_card
from ledger_client.contracts.types import ChildStatus
from ledger_client.errors import ChainUnavailableError, StoreError, TutelaError
from ledger_client.services.context import Tutela, open_tutela
from ledger_client.services.crossings import request_crossing
from ledger_client.settings import load_settings
from ledger_client.store.models import Child

ROOT = Path(__file__).resolve().parents[2]
BORDER_POINT = "MD-LEUSENI"
COMPANION = "Fault Test Companion"
# What a restarted node or database is allowed to do to a request before it is tried again.
TRANSIENT = (ChainUnavailableError, StoreError)
RETRY_PAUSE = 0.2


# -- the process ---------------------------------------------------------------------------


def companion_document(key: str) -> str:
    """A companion document of its own for each request: letters and digits only."""
    return "FT" + "".join(c for c in key.upper() if c.isalnum())[-30:]


def enrolled_cards(tutela: Tutela, count: int) -> list[str]:
    """The cards of the first ``count`` active children, in card order.

    Raises:
        TutelaError: fewer children are enrolled.
    """
    with tutela.database.transaction() as session:
        numbers = list(
            session.scalars(
                select(Child.card_number)
                .where(Child.status == ChildStatus.ACTIVE)
                .order_by(Child.card_number)
                .limit(count)
            )
        )
    if len(numbers) < count:
        raise TutelaError(f"{count} enrolled children needed, the store holds {len(numbers)}")
    return [format_card(number) for number in numbers]


def run(args: argparse.Namespace) -> None:
    """Submits every request; with patience, reopens Tutela after a transient failure."""
    settings = load_settings(args.data_dir, args.chain)
    n = 0
    give_up_at: float | None = None
    while n < args.count:
        try:
            with open_tutela(settings) as tutela:
                cards = enrolled_cards(tutela, args.children)
                while n < args.count:
                    key = f"{args.key_prefix}-{n}"
                    view = request_crossing(
                        tutela,
                        cards[n % len(cards)],
                        direction="exit",
                        border_point=BORDER_POINT,
                        companion_name=COMPANION,
                        companion_document=companion_document(key),
                        idempotency_key=key,
                    )
                    print(f"{key} {view.request}", flush=True)
                    n += 1
                    give_up_at = None
        except TRANSIENT as error:
            now = time.monotonic()
            if give_up_at is None:
                give_up_at = now + args.patience
            if now >= give_up_at:
                raise
            print(f"waiting: {error}", file=sys.stderr, flush=True)
            time.sleep(RETRY_PAUSE)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.submitter")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--chain", default=None, metavar="URL")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--key-prefix", required=True)
    parser.add_argument("--children", type=int, default=1)
    parser.add_argument("--patience", type=float, default=0.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    try:
        run(args)
    except TutelaError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


# -- the tests' handle on it ---------------------------------------------------------------


@dataclass
class Progress:
    """Every line the submitters printed: key -> the request numbers it was shown with."""

    numbers: dict[str, set[int]] = field(default_factory=dict)

    def add(self, line: str) -> None:
        key, number = line.split()
        self.numbers.setdefault(key, set()).add(int(number))

    def __len__(self) -> int:
        return len(self.numbers)

    def shown_twice(self) -> list[str]:
        """Keys shown with two different request numbers: never, if each key is one request."""
        return [key for key, numbers in self.numbers.items() if len(numbers) != 1]


class Submitter:
    """This module in a child process; a thread feeds its lines into a :class:`Progress`."""

    def __init__(
        self,
        env: Mapping[str, str],
        progress: Progress,
        log: Path,
        *,
        data_dir: Path,
        count: int,
        prefix: str,
        children: int,
        chain_url: str | None = None,
        patience: float = 0.0,
    ) -> None:
        command = [
            sys.executable, "-m", "tests.support.submitter", "--data-dir", str(data_dir),
            "--count", str(count), "--key-prefix", prefix, "--children", str(children),
            "--patience", str(patience),
        ]  # fmt: skip
        if chain_url is not None:
            command += ["--chain", chain_url]
        self.log = log
        self.progress = progress
        with log.open("a") as stderr:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False  # the reader's end-of-output mark was taken from the queue
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(line.strip())
        self._lines.put(None)

    def follow(self, until: Callable[[], bool], timeout: float = 150.0) -> bool:
        """Records lines until ``until()`` holds (True) or the process has ended (False).

        Raises:
            TimeoutError: no line for ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not until():
            if self._ended:
                return False
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no progress in {timeout:.0f} s: {self.stderr()}") from None
            if line is None:
                self._ended = True
            else:
                self.progress.add(line)
        return True

    def drain(self) -> int:
        """Records the lines printed so far without waiting; returns how many keys are known."""
        while not self._ended:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._ended = True
            else:
                self.progress.add(line)
        return len(self.progress)

    def finish(self) -> int:
        """Waits for the end; returns the exit code."""
        self.follow(lambda: False)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL; what it printed before it died still counts (printed after the commit)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.follow(lambda: False, timeout=30)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def run_to_the_end(start: Callable[[], Submitter], run: Submitter, attempts: int = 3) -> None:
    """Lets ``run`` finish; when it fails, starts another, as its operator would.

    Raises:
        AssertionError: the last attempt failed too.
    """
    for _ in range(attempts):
        if run.finish() == 0:
            return
        run = start()
    code = run.finish()
    if code != 0:
        raise AssertionError(f"the submitter failed {attempts + 1} times: {run.stderr()}")


def errors_in(log: Path) -> list[str]:
    """The errors the submitters reported, and any traceback (a bug of its own)."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if line.startswith(("error:", "Traceback"))]


def resends_in(log: Path) -> list[str]:
    """The outbox's warnings that it sent an action again (logging's last-resort handler
    prints them on stderr): a lost block reopened, or a nonce taken and signed again."""
    lines = log.read_text(errors="replace").splitlines()
    return [line for line in lines if "was lost, sending again" in line or "signed again" in line]


if __name__ == "__main__":
    sys.exit(main())
