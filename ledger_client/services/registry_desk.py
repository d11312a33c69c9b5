"""The registry desk's actions that span two services: a child's record and its photo.

A photo is checked and re-encoded before anything else happens, so that a bad photo
changes nothing; the child is then enrolled (or corrected) on chain, and the photo and the
look-up that finds likely duplicates are stored in one database transaction right after.
"""

from __future__ import annotations

import logging

from ledger_client.services import children
from ledger_client.services.children import ChildView
from ledger_client.services.context import Tutela
from ledger_client.services.guardian_keys import now_of
from ledger_client.services.photos import (
    PreparedPhoto,
    add_photo,
    open_photo,
    replace_photo,
    save_photo,
)
from ledger_client.store.portal_models import ChildPhoto

__all__ = ["change_photo", "correct_child", "enrol_child"]

logger = logging.getLogger(__name__)


def enrol_child(
    tutela: Tutela,
    *,
    photo: PreparedPhoto | None,
    given_name: str,
    family_name: str,
    birth_date: str,
    birth_place: str,
    guardian_specs: list[str],
    policy: str,
    acting_as: str | None = None,
) -> ChildView:
    """Enrols a child (:func:`ledger_client.services.children.enrol_child`) with a photo.

    Args:
        tutela: The open Tutela.
        photo: The output of :func:`ledger_client.services.photos.prepare_photo`, or None;
            preparing it first is what keeps a bad photo from changing anything.
        given_name: As for :func:`~ledger_client.services.children.enrol_child`.
        family_name: As for :func:`~ledger_client.services.children.enrol_child`.
        birth_date: As for :func:`~ledger_client.services.children.enrol_child`.
        birth_place: As for :func:`~ledger_client.services.children.enrol_child`.
        guardian_specs: As for :func:`~ledger_client.services.children.enrol_child`.
        policy: As for :func:`~ledger_client.services.children.enrol_child`.
        acting_as: The registry official's staff name.

    Returns:
        The child's view with the new guardians' activation codes, this once.

    Raises:
        InputError: malformed personal data, guardians or policy.
        ConflictError: the same child is registered already.
        ContractRevertError: the registry refused.
        StoreError: the photo could not be stored (the child is enrolled without it).
    """
    view = children.enrol_child(
        tutela,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        birth_place=birth_place,
        guardian_specs=guardian_specs,
        policy=policy,
        acting_as=acting_as,
    )
    with tutela.database.transaction() as session:
        if photo is not None:
            # A retried enrolment finds its record again; its photo is then replaced.
            if session.get(ChildPhoto, view.child_id) is None:
                add_photo(session, tutela.master_key, view.child_id, photo, now_of(tutela))
            else:
                replace_photo(session, tutela.master_key, view.child_id, photo, now_of(tutela))
    return view


def correct_child(
    tutela: Tutela,
    card: str,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    birth_date: str | None = None,
    birth_place: str | None = None,
    acting_as: str | None = None,
) -> ChildView:
    """Corrects a child's record (:func:`ledger_client.services.children.correct_child`).

    The corrected record is a new one with its own id: the photo is carried over to it, and
    its look-up for likely duplicates is stored by the correction itself.

    Raises:
        InputError: malformed data, or nothing that differs from the record.
        NotFoundError: no child has this card.
        ConflictError: the record is not active.
    """
    with tutela.database.reading() as session:
        previous = children.child_by_card(session, card).child_id
    view = children.correct_child(
        tutela,
        card,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        birth_place=birth_place,
        acting_as=acting_as,
    )
    with tutela.database.transaction() as session:
        photo = open_photo(session, tutela.master_key, previous)
        if photo is not None and session.get(ChildPhoto, view.child_id) is None:
            # Bytes this module stored after prepare_photo, opened again: still prepared.
            add_photo(
                session, tutela.master_key, view.child_id, PreparedPhoto(photo.data), now_of(tutela)
            )
    return view


def change_photo(tutela: Tutela, card: str, photo: PreparedPhoto) -> str:
    """Adds or replaces the photo of the record a card leads to now.

    Returns:
        The record id the photo was stored for.

    Raises:
        InputError: a malformed card number.
        NotFoundError: no child has this card.
        StoreError: the store failed.
    """
    with tutela.database.reading() as session:
        child_id = children.child_by_card(session, card).child_id
    save_photo(tutela, child_id, photo, now_of(tutela))
    logger.info("photo of record %s changed", child_id)
    return child_id
