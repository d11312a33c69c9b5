"""The WSGI application for gunicorn: ``gunicorn 'guardian_portal.wsgi:app'``.

Settings come from ``TUTELA_*`` variables. Run ``tutela worker`` beside it: gunicorn's
workers only answer requests; the indexer, reconciler and notifier run once, in the worker.
"""

from __future__ import annotations

import atexit
from contextlib import ExitStack
from dataclasses import replace

from werkzeug.middleware.proxy_fix import ProxyFix

from guardian_portal import create_app
from ledger_client.chain.node import running_node_url
from ledger_client.errors import ConfigurationError
from ledger_client.services.context import open_tutela
from ledger_client.settings import load_settings

_settings = load_settings()
if _settings.chain_url is None:
    # The embedded default: talk to the ``tutela worker`` that serves the chain; gunicorn's
    # workers must not each open the chain file.
    _node = running_node_url(_settings.data_dir)
    if _node is None:
        raise ConfigurationError(
            f"no node serves {_settings.data_dir}: start 'tutela worker' before gunicorn"
        )
    _settings = replace(_settings, chain_url=_node)
_resources = ExitStack()
atexit.register(_resources.close)
_tutela = _resources.enter_context(open_tutela(_settings))
# ``tutela worker`` runs the indexer; pages read the index as it is.
_tutela.background_index = True
app = create_app(_tutela)
# One proxy (the load balancer) sets X-Forwarded-For/-Proto; the rate limits count its
# client's address, not the proxy's.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
