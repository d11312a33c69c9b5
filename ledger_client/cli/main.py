"""Entry point of the ``tutela`` command: every error becomes one line on stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ledger_client.errors import TutelaError
from ledger_client.settings import Settings, load_settings

logger = logging.getLogger("ledger_client.cli")

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """The root options; sub-commands may repeat ``--data-dir``, ``--json`` and ``--chain``."""

    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self.as_json = False
        self.chain_url: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.data_dir, self.chain_url)


def common_options(function: F) -> F:
    """Adds ``--data-dir``, ``--json`` and ``--chain`` to a command, after its name too."""

    @click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Data folder (default ./tutela-data).",
    )
    @click.option("--json", "as_json", is_flag=True, default=None, help="Print one JSON object.")
    @click.option(
        "--chain", "chain_url", default=None, metavar="URL", help="JSON-RPC URL of the node."
    )
    @wraps(function)
    def wrapper(
        data_dir: Path | None,
        as_json: bool | None,
        chain_url: str | None,
        **kwargs: Any,
    ) -> Any:
        obj: Context = click.get_current_context().find_object(Context) or Context()
        obj.data_dir = data_dir or obj.data_dir
        obj.as_json = bool(as_json) or obj.as_json
        obj.chain_url = chain_url or obj.chain_url
        return function(obj, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Data folder (default ./tutela-data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--chain", "chain_url", default=None, metavar="URL", help="JSON-RPC URL of the node.")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens on stderr.")
@click.pass_context
def cli(
    ctx: click.Context, data_dir: Path | None, as_json: bool, chain_url: str | None, verbose: bool
) -> None:
    """Tutela: digital identity and guardian-approved border crossings for children."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    obj = Context()
    obj.data_dir, obj.as_json, obj.chain_url = data_dir, as_json, chain_url
    ctx.obj = obj


def main() -> None:
    """Runs the command; a Tutela error is one line on stderr, a bug is logged, never dumped."""
    try:
        from ledger_client.cli import (
            account_commands,  # noqa: F401 - portal logins of staff
            audit_commands,  # noqa: F401 - verify and anchor the audit log
            commands,  # noqa: F401 - registers the sub-commands
            index_commands,  # noqa: F401 - index and verify
            investigate_commands,  # noqa: F401 - the investigators' workbench
        )

        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.UsageError as error:
        where = error.ctx.command_path if error.ctx else "tutela"
        click.echo(f"error: {error.format_message()} (see '{where} --help')", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except TutelaError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        # The traceback is for the operator who asked for it with -v, never the default.
        logger.debug("unexpected failure", exc_info=True)
        click.echo(
            "error: an unexpected failure occurred; run again with -v and report it", err=True
        )
        sys.exit(70)
