"""The child's photo and the card's QR code, as the desks' pages show them.

The photo goes into the page itself as a ``data:`` URL (the CSP allows ``img-src data:``):
there is no separate photo address that could be fetched without the page's audit entry.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.datastructures import FileStorage

from guardian_portal.hooks import tutela
from ledger_client import card_qr
from ledger_client.errors import InputError
from ledger_client.services.children import ChildView
from ledger_client.services.photos import MAX_PHOTO_BYTES, PreparedPhoto, load_photo, prepare_photo


def photo_source(child_id: str) -> str | None:
    """The child's photo as a ``data:`` URL, or None when the record has none."""
    photo = load_photo(tutela(), child_id)
    if photo is None:
        return None
    return f"data:{photo.content_type};base64,{base64.b64encode(photo.data).decode('ascii')}"


def prepared_upload(upload: FileStorage) -> PreparedPhoto:
    """Reads an uploaded photo and re-encodes it (which strips its metadata).

    Raises:
        InputError: empty, too large, or not a JPEG or PNG image.
    """
    # One byte more than allowed is enough to know the file is too large.
    data = upload.stream.read(MAX_PHOTO_BYTES + 1)
    if not data:
        raise InputError("no photo was chosen")
    return prepare_photo(data)


def issue_date() -> date:
    """Today by Tutela's clock: the day printed on the card and signed in its QR code."""
    return datetime.fromtimestamp(tutela().clock(), UTC).date()


def card_qr_svg(view: ChildView, issued: date) -> Markup:
    """The card's QR code as inline SVG: the registry's signature over card, record and day.

    Raises:
        InputError: the card or record id is malformed.
        ConfigurationError: the card-signing secret is missing.
    """
    payload = card_qr.sign_card(tutela().settings, view.card, view.child_id, issued)
    svg = card_qr.qr_svg(payload, label=_("Signed QR code of the child's Tutela card"))
    # segno wrote the SVG and qr_svg escaped the label: nothing of the user's is in it.
    return Markup(svg)  # noqa: S704
