"""The notifier loop that runs beside the reconciler and the indexer."""

from __future__ import annotations

import logging
import threading

from ledger_client.errors import ChainError, ConfigurationError, StoreError
from ledger_client.notify.config import load_notify_config
from ledger_client.notify.delivery import deliver_due
from ledger_client.notify.transports import MAIL_FOLDER
from ledger_client.services.context import Tutela

logger = logging.getLogger(__name__)

BATCH = 50


def follow_notifications(tutela: Tutela, stop: threading.Event, interval: float = 2.0) -> None:
    """Delivers due notifications until ``stop`` is set; a failing pass is logged and retried.

    Malformed notification settings are logged once and the loop idles: nothing would be
    sent until the settings are fixed and the process restarted.
    """
    try:
        config = load_notify_config()
    except ConfigurationError as error:
        logger.error("notifications are off until the settings are fixed: %s", error)
        stop.wait()
        return
    if config.smtp_host is None:
        logger.info(
            "no TUTELA_SMTP_HOST: e-mails are written to %s", tutela.settings.data_dir / MAIL_FOLDER
        )
    if config.sms_webhook_url is None:
        logger.info("no TUTELA_SMS_WEBHOOK_URL: SMS fail at once and border officers see it")
    while not stop.is_set():
        try:
            report = deliver_due(tutela, limit=BATCH, config=config)
        except (ChainError, StoreError) as error:
            logger.warning("notification delivery failed, will retry: %s", error)
        else:
            if report:
                logger.info("notifications: %s", report)
            if report.sent + report.retrying + report.failed >= BATCH:
                continue  # a backlog: go on at once
        stop.wait(interval)
