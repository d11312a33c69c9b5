"""Notifications to guardians: e-mail over SMTP and SMS through a signed webhook.

Messages are queued in the store (``notifications``) in the database transaction that makes
them due, rendered from the sealed records only when they are sent, and delivered with
retries by :func:`ledger_client.notify.delivery.deliver_due`. Guardians without a smartphone
answer by SMS (:mod:`ledger_client.notify.sms`).
"""
