"""The child's photo, which the border officer matches against the child in front of them.

An upload is decoded and drawn again as a fresh JPEG (:func:`prepare_photo`) before it is
stored: the re-encoding drops every piece of metadata the camera wrote, the GPS position of
the child's home among them, and means that the portal only ever serves bytes that Pillow
produced, never the uploader's. The photo is then sealed like the child's record
(envelope encryption, :mod:`ledger_client.crypto`), bound to the child's record id, so a
sealed photo copied to another child's row does not open there.

The store functions take the caller's Session: enrolment adds the photo in the same
database transaction as the child's row, so there is never a child without the photo that
was uploaded for it, nor a photo without its child.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NewType, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError, features
from sqlalchemy.orm import Session

from ledger_client.crypto import MasterKey, SealedRecord, open_sealed, seal
from ledger_client.errors import ConflictError, InputError, NotFoundError
from ledger_client.store.database import Database
from ledger_client.store.portal_models import ChildPhoto

__all__ = [
    "MAX_PHOTO_BYTES",
    "Photo",
    "PhotoKeeper",
    "PreparedPhoto",
    "add_photo",
    "load_photo",
    "open_photo",
    "prepare_photo",
    "replace_photo",
    "save_photo",
]

# Only what prepare_photo returns may be stored: its type says the metadata is gone.
PreparedPhoto = NewType("PreparedPhoto", bytes)

MAX_PHOTO_BYTES: Final = 5 * 1024 * 1024
# A portrait the border officer sees on a screen and the registry prints on a card.
_BOX: Final = (600, 800)
_JPEG_QUALITY: Final = 85
_CONTENT_TYPE: Final = "image/jpeg"
# 50 megapixels is more than any phone or ID-photo camera takes by default; above it an
# upload is far more likely a decompression bomb (a small file that decodes to gigabytes)
# than a portrait. Checked from the header, before a pixel is decoded.
_MAX_PIXELS: Final = 50_000_000
# Pillow guesses among dozens of formats; only these decoders are ever run on an upload.
_FORMATS: Final = ("JPEG", "PNG", "WEBP") if features.check("webp") else ("JPEG", "PNG")
_REFUSED: Final = "the photo must be a JPEG or PNG image of at most 5 MB"
_WHITE: Final = (255, 255, 255)


@dataclass(frozen=True)
class Photo:
    """A child's photo as the portal serves it.

    Attributes:
        content_type: The media type, ``"image/jpeg"``.
        data: The image bytes.
    """

    content_type: str
    data: bytes


class PhotoKeeper(Protocol):
    """What the photo functions need of an open Tutela: its store and its master key."""

    @property
    def database(self) -> Database: ...

    @property
    def master_key(self) -> MasterKey: ...


def prepare_photo(data: bytes) -> PreparedPhoto:
    """Decode an uploaded photo and draw it again as a clean JPEG.

    The photo is turned upright by its EXIF orientation, flattened on white if it has
    transparency, scaled down to fit 600 x 800, and encoded as a JPEG of quality 85.

    Args:
        data: The uploaded file: JPEG or PNG (or WebP, where Pillow reads it), at most 5 MB.

    Returns:
        The new JPEG. It carries no metadata: no EXIF (camera, time, GPS position), no
        comment, no colour profile.

    Raises:
        InputError: The file is empty, larger than 5 MB, not a JPEG or PNG image, damaged,
            or would decode to more than 50 megapixels.
    """
    if not isinstance(data, bytes | bytearray) or not 0 < len(data) <= MAX_PHOTO_BYTES:
        raise InputError(_REFUSED)
    try:
        # Pillow only warns below twice its own pixel limit; a warning is a refusal here.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                if image.width * image.height > _MAX_PIXELS:
                    raise InputError(_REFUSED)
                # JPEG decodes at 1/2, 1/4 or 1/8 scale for free when that still covers the
                # box (in either orientation): less memory and time for a 50 MP upload.
                image.draft("RGB", (max(_BOX), max(_BOX)))
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail(_BOX, Image.Resampling.LANCZOS)
                clean = _flatten(upright)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
    ):
        # Pillow reports a damaged or hostile file with any of these, depending on the
        # decoder; the uploader learns only what files are accepted.
        raise InputError(_REFUSED) from None
    output = io.BytesIO()
    # A fresh image has an empty ``info``, and no exif, icc_profile or comment argument is
    # given: the JPEG is written without EXIF (and so without GPS tags), comment or profile.
    clean.save(output, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return PreparedPhoto(output.getvalue())


def _flatten(image: Image.Image) -> Image.Image:
    """Draw ``image`` onto a new white RGB canvas, which carries none of its metadata."""
    canvas = Image.new("RGB", image.size, _WHITE)
    if image.mode.startswith("I;16") or image.mode == "I":
        # 16-bit grey (scanners write it) would be clipped to white by convert(): scale it.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
    else:
        canvas.paste(image.convert("RGB"))
    return canvas


def add_photo(
    session: Session, master_key: MasterKey, child_id: str, jpeg: PreparedPhoto, now: datetime
) -> None:
    """Seal and store the first photo of a child, in the caller's transaction.

    Args:
        session: The caller's Session; its transaction also writes the child's row.
        master_key: The registry's master key.
        child_id: The child's record id, ``"0x"`` and 32 hex digits.
        jpeg: The output of :func:`prepare_photo`.
        now: When the photo was taken in.

    Raises:
        ConflictError: The child has a photo already (use :func:`replace_photo`).
    """
    if session.get(ChildPhoto, child_id) is not None:
        raise ConflictError("this child has a photo already: replace it instead")
    session.add(
        ChildPhoto(
            child_id=child_id,
            content_type=_CONTENT_TYPE,
            sealed=_seal(master_key, child_id, jpeg),
            added_at=now,
        )
    )


def replace_photo(
    session: Session, master_key: MasterKey, child_id: str, jpeg: PreparedPhoto, now: datetime
) -> None:
    """Replace a child's photo, in the caller's transaction.

    The old photo's sealed bytes, and with them its data key, are overwritten: once no
    backup holds the old row, the old photo is gone for good.

    Raises:
        NotFoundError: The child has no photo yet (use :func:`add_photo`).
    """
    photo = session.get(ChildPhoto, child_id)
    if photo is None:
        raise NotFoundError("this child has no photo to replace")
    photo.content_type = _CONTENT_TYPE
    photo.sealed = _seal(master_key, child_id, jpeg)
    photo.added_at = now


def open_photo(session: Session, master_key: MasterKey, child_id: str) -> Photo | None:
    """Return a child's photo, decrypted, or None when the child has none.

    Raises:
        CryptoError: The sealed photo does not open with this key for this child (another
            master key, a row copied from another child, or altered bytes).
    """
    photo = session.get(ChildPhoto, child_id)
    if photo is None:
        return None
    data = open_sealed(
        master_key, SealedRecord.from_bytes(photo.sealed), associated_data=_aad(child_id)
    )
    return Photo(content_type=photo.content_type, data=data)


def save_photo(keeper: PhotoKeeper, child_id: str, jpeg: PreparedPhoto, now: datetime) -> None:
    """Store a child's photo in a transaction of its own, adding it or replacing the old one.

    For a photo taken in with the child's record, call :func:`add_photo` in that
    record's transaction instead.

    Raises:
        StoreError: The store failed (for example, no child has this record id).
    """
    with keeper.database.transaction() as session:
        if session.get(ChildPhoto, child_id) is None:
            add_photo(session, keeper.master_key, child_id, jpeg, now)
        else:
            replace_photo(session, keeper.master_key, child_id, jpeg, now)


def load_photo(keeper: PhotoKeeper, child_id: str) -> Photo | None:
    """Return a child's photo, or None when the child has none.

    Reading it is reading the child's personal data: the portal logs it in the audit log.

    Raises:
        CryptoError: As for :func:`open_photo`.
        StoreError: The store failed.
    """
    with keeper.database.reading() as session:
        return open_photo(session, keeper.master_key, child_id)


def _seal(master_key: MasterKey, child_id: str, jpeg: bytes) -> bytes:
    return seal(master_key, jpeg, associated_data=_aad(child_id)).to_bytes()


def _aad(child_id: str) -> bytes:
    return b"child-photo:" + child_id.encode()
