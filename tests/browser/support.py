"""Helpers of the browser tests: Chromium's flags, screenshots, axe-core, mail, the portal.

The browser is Debian's Chromium (``scripts/setup.sh`` installs it), driven by PyPI's
Playwright; Playwright's own browser download cannot run here and is never used.
No pytest fixtures here (they are in ``conftest.py``), so that a script can use these too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.sync_api import Page

ROOT: Final = Path(__file__).resolve().parents[2]
CHROMIUM: Final = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts,
# which this closed network refuses; --no-sandbox because the tests run as root.
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
AXE_SCRIPT: Final = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS: Final = ROOT / "test-artifacts" / "screenshots"
# The impacts that fail a test; "minor" and "moderate" ones are printed only.
BLOCKING_IMPACTS: Final = frozenset({"serious", "critical"})
# Long enough for a loaded two-core machine, short enough that a hang fails in seconds.
ACTION_TIMEOUT_MS: Final = 20_000
# Seeding and the small demo population take about 70 s on a loaded machine.
PORTAL_START_TIMEOUT: Final = 300.0
PORTAL_STOP_TIMEOUT: Final = 10.0
# The portal's local settings: fast keystores, mail to the test's listener, no TLS.
_SETTING_VARIABLES: Final = ("TUTELA_DATA_DIR", "TUTELA_CHAIN_URL", "TUTELA_DATABASE_URL")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_chromium_message() -> str:
    return (
        f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. "
        "Run scripts/setup.sh as root (it installs the 'chromium' package); "
        "never 'playwright install'."
    )


class Screenshots:
    """Numbered screenshots of one test: ``test-artifacts/screenshots/<test>/<nn>-<name>.png``.

    The folder is emptied when the test starts, so it shows the last run only.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._taken = 0
        if folder.exists():
            for old in folder.glob("*.png"):
                old.unlink()

    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """Save a screenshot of ``page`` and return its path.

        Args:
            page: The page to photograph.
            name: What the screenshot shows, for example ``"login-refused"``.
            full_page: The whole scrolling page rather than the window only.
        """
        self._taken += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._taken:02d}-{_file_name(name)}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-") or "page"


def screenshot_folder(module: str, test_name: str) -> Path:
    """The folder of one test's screenshots, ``<module>.<test name>`` made safe for a path."""
    return SCREENSHOTS / _file_name(f"{module}.{test_name}")


def axe_violations(page: Page, *, rules: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Run axe-core over ``page`` and return its violations, as axe reports them.

    axe's source is evaluated through the DevTools protocol, which a page's Content
    Security Policy does not govern: the page keeps its real CSP (``script-src 'self'``
    blocks ``page.add_script_tag``, which inserts an inline script), so a test of the
    portal still sees what the CSP blocks, and no ``bypass_csp`` context is needed.

    Args:
        page: A page that has loaded the document to check (its top frame is checked).
        rules: axe's ``rules`` option, to switch a rule off for a stated reason.
    """
    if not AXE_SCRIPT.exists():
        raise AssertionError(f"{AXE_SCRIPT} is missing: run scripts/setup.sh (npm ci)")
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["rules"] = rules
    result = page.evaluate(
        "async (options) => (await axe.run(document, options)).violations", options
    )
    assert isinstance(result, list)
    return result


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One block per violation: impact, rule id, help text and link, then each node."""
    lines = []
    for violation in violations:
        lines.append(
            f"[{violation.get('impact')}] {violation['id']}: {violation['help']} "
            f"({violation.get('helpUrl', '')})"
        )
        for node in violation.get("nodes", []):
            lines.append(f"    at {json.dumps(node.get('target'))}: {node.get('html', '')[:160]}")
    return "\n".join(lines)


def axe_check(page: Page, *, rules: dict[str, Any] | None = None) -> None:
    """Fail unless axe-core finds no serious or critical accessibility violation on ``page``.

    Every violation is printed (pytest shows it with a failure, or with ``-s``): its impact,
    rule id, help text and the nodes it was found at. Minor and moderate ones do not fail.

    Raises:
        AssertionError: A serious or critical violation, listed in the message.
    """
    violations = axe_violations(page, rules=rules)
    if violations:
        print(f"axe-core on {page.url}:\n{describe_violations(violations)}")
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, (
        f"axe-core found {len(blocking)} serious or critical violation(s) on {page.url}:\n"
        + describe_violations(blocking)
    )


class _Collector:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self, inbox: SmtpListener) -> None:
        self._inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self._inbox.deliver(message)
        return "250 OK"


class SmtpListener:
    """A real SMTP server on 127.0.0.1 that keeps what it receives, for tests to read."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        self._controller = Controller(
            _Collector(self), hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def deliver(self, message: EmailMessage) -> None:
        with self._arrived:
            self._messages.append(message)
            self._arrived.notify_all()

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages received so far, oldest first."""
        with self._arrived:
            return list(self._messages)

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool] = lambda _: True, timeout: float = 10.0
    ) -> EmailMessage:
        """Return the first message, received so far or within ``timeout`` seconds, for which
        ``predicate`` is true.

        Raises:
            AssertionError: None arrived in time; the message lists the subjects received.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self._messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    subjects = [str(m.get("Subject")) for m in self._messages]
                    raise AssertionError(
                        f"no matching mail within {timeout} s; received: {subjects}"
                    )
                self._arrived.wait(remaining)


@dataclass
class Portal:
    """A running ``tutela serve --demo`` process.

    Attributes:
        url: The portal's base URL, without a trailing slash.
        data_dir: Its data folder.
        process: The process; its stdout and stderr go to files in ``log_dir``.
        mail: The SMTP listener the portal sends its mail to.
    """

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_dir: Path
    mail: SmtpListener
    _stopped: bool = field(default=False, repr=False)

    @property
    def stdout(self) -> str:
        """Everything the process printed so far (the demo prints its logins here)."""
        return (self.log_dir / "stdout.txt").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.log_dir / "stderr.txt").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s, to the process and anything it started."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(PORTAL_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(PORTAL_STOP_TIMEOUT)
        # Anything it started and left behind goes too (the group outlives its leader).
        _signal_group(self.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # The portal runs in a session of its own, whose group id is its process id.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def portal_environment(smtp: SmtpListener, port: int) -> dict[str, str]:
    """The environment ``tutela serve`` runs with in the browser tests."""
    environment = {k: v for k, v in os.environ.items() if k not in _SETTING_VARIABLES}
    environment.pop("TUTELA_ENV", None)
    environment.update(
        {
            "TUTELA_SMTP_HOST": smtp.host,
            "TUTELA_SMTP_PORT": str(smtp.port),
            "TUTELA_SMTP_SECURITY": "none",
            "TUTELA_PORTAL_URL": f"http://127.0.0.1:{port}",
            "TUTELA_KEYSTORE_WORK_FACTOR": "1024",
            # The demo's logins must reach stdout.txt while the process runs.
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def start_portal(data_dir: Path, smtp: SmtpListener, log_dir: Path) -> Portal:
    """Start ``tutela serve --demo`` on a free port and wait until ``/healthz`` answers 200.

    Raises:
        AssertionError: The process ended, or did not answer in time; the message
            holds the end of its stderr.
    """
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    tutela = Path(sys.executable).parent / "tutela"
    command = [
        str(tutela),
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--demo",
        # The small population starts in seconds; the full one is for people to explore.
        "--demo-population",
        "small",
    ]
    with (
        (log_dir / "stdout.txt").open("wb") as stdout,
        (log_dir / "stderr.txt").open("wb") as stderr,
    ):
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=portal_environment(smtp, port),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    portal = Portal(f"http://127.0.0.1:{port}", data_dir, process, log_dir, smtp)
    try:
        _wait_until_healthy(portal)
    except BaseException:
        portal.stop()
        raise
    return portal


def _wait_until_healthy(portal: Portal) -> None:
    deadline = time.monotonic() + PORTAL_START_TIMEOUT
    while True:
        code = portal.process.poll()
        if code is not None:
            raise AssertionError(
                f"tutela serve ended with exit code {code} before answering:\n"
                + tail(portal.stderr)
            )
        try:
            with urllib.request.urlopen(f"{portal.url}/healthz", timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"tutela serve did not answer {portal.url}/healthz with 200 within "
                f"{PORTAL_START_TIMEOUT:.0f} s:\n" + tail(portal.stderr)
            )
        time.sleep(0.25)


def tail(text: str, lines: int = 60) -> str:
    """The last ``lines`` lines of ``text`` (a process's stderr, say)."""
    return "\n".join(text.splitlines()[-lines:]) or "(nothing on stderr)"
