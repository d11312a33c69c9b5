"""Children's photos: re-encoded without metadata, sealed per child, refused when hostile.

The store tests run on SQLite and on a throwaway PostgreSQL cluster (``database_url``).
"""

from __future__ import annotations

import io
import secrets
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from PIL import ExifTags, Image, features
from sqlalchemy import select, update

from ledger_client.cards import new_card_number
from ledger_client.crypto import MasterKey
from ledger_client.errors import ConflictError, CryptoError, InputError, NotFoundError
from ledger_client.services.photos import (
    Photo,
    PreparedPhoto,
    add_photo,
    load_photo,
    prepare_photo,
    replace_photo,
    save_photo,
)
from ledger_client.store.database import Database
from ledger_client.store.models import Child, StaffMember, StaffRole
from ledger_client.store.portal_models import ChildPhoto

NOW = datetime(2026, 3, 9, 10, 30, tzinfo=UTC)
REFUSED = "the photo must be a JPEG or PNG image of at most 5 MB"
RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)


@dataclass
class Registry:
    """What the photo functions need of an open Tutela, over a plain store."""

    database: Database
    master_key: MasterKey
    children: tuple[str, str]


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    database = Database(database_url)
    database.migrate()
    children = ("0x" + secrets.token_hex(16), "0x" + secrets.token_hex(16))
    with database.transaction() as session:
        registrar = StaffMember(
            name="registrar",
            role=StaffRole.REGISTRAR,
            address="0x" + "11" * 20,
            keystore={},
            created_at=NOW,
        )
        session.add(registrar)
        session.flush()
        for child_id in children:
            session.add(
                Child(
                    child_id=child_id,
                    card_number=new_card_number(),
                    commitment="0x" + secrets.token_hex(32),
                    sealed=b"sealed elsewhere",
                    status="active",
                    policy="any",
                    enrolled_by=registrar.id,
                    enrolled_at=NOW,
                )
            )
    yield Registry(database, MasterKey.generate(), children)
    database.dispose()


def _two_colour(size: tuple[int, int]) -> Image.Image:
    """Red on the left half, blue on the right: shows which way a photo was turned."""
    image = Image.new("RGB", size, BLUE)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), RED), (0, 0))
    return image


def _phone_jpeg() -> bytes:
    """A 400x300 JPEG as a phone writes it held upright: EXIF rotation, GPS and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90 degrees clockwise to display
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (47.0, 1.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (28.0, 51.0, 40.0)
    output = io.BytesIO()
    _two_colour((400, 300)).save(
        output, format="JPEG", exif=exif, comment=b"home of the child", quality=95
    )
    return output.getvalue()


def _decompression_bomb(side: int = 20_000) -> bytes:
    """A black 1-bit PNG, ``side`` pixels square: 20,000 is 400 million pixels in 50 KB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)  # a filter byte, then 2,500 bytes of black pixels
    pixels = b"".join(compressor.compress(row * 500) for _ in range(side // 500))
    pixels += compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _opened(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def _near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= 24 for a, b in zip(pixel, colour, strict=True))


def test_a_phone_jpeg_comes_back_upright_without_exif_gps_or_comment() -> None:
    original = _phone_jpeg()
    assert b"Exif\x00\x00" in original  # the test photo does carry the metadata
    jpeg = prepare_photo(original)
    image = _opened(jpeg)
    assert image.format == "JPEG"
    assert image.size == (300, 400)  # turned upright: the left half is now on top
    assert _near(image.getpixel((150, 20)), RED)
    assert _near(image.getpixel((150, 380)), BLUE)
    assert len(image.getexif()) == 0
    assert not {"exif", "comment", "icc_profile"} & set(image.info)
    assert b"Exif" not in jpeg
    assert b"PhoneMaker" not in jpeg
    assert b"home of the child" not in jpeg


def test_a_png_with_transparency_becomes_a_jpeg_on_white_that_fits_the_box() -> None:
    source = Image.new("RGBA", (1200, 1200), (0, 0, 0, 0))
    source.paste(Image.new("RGBA", (600, 1200), (*RED, 255)), (0, 0))
    output = io.BytesIO()
    source.save(output, format="PNG")
    image = _opened(prepare_photo(output.getvalue()))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.size == (600, 600)
    assert _near(image.getpixel((100, 300)), RED)
    assert _near(image.getpixel((500, 300)), WHITE)  # transparent, not black


def test_a_large_portrait_is_scaled_to_fit_600_by_800() -> None:
    output = io.BytesIO()
    _two_colour((3000, 4000)).save(output, format="JPEG", quality=90)
    image = _opened(prepare_photo(output.getvalue()))
    assert image.size == (600, 800)
    assert _near(image.getpixel((100, 400)), RED)
    assert _near(image.getpixel((500, 400)), BLUE)


def test_a_small_photo_is_not_enlarged() -> None:
    output = io.BytesIO()
    _two_colour((120, 160)).convert("L").save(output, format="PNG")
    image = _opened(prepare_photo(output.getvalue()))
    assert (image.size, image.mode) == ((120, 160), "RGB")


def test_a_multi_picture_jpeg_from_a_phone_gives_its_first_picture() -> None:
    # Phones write MPO (a JPEG followed by a depth map or a preview), which Pillow opens as
    # "MPO" rather than "JPEG".
    output = io.BytesIO()
    _two_colour((100, 80)).save(
        output, format="MPO", save_all=True, append_images=[Image.new("RGB", (100, 80))]
    )
    image = _opened(prepare_photo(output.getvalue()))
    assert (image.format, image.size) == ("JPEG", (100, 80))
    assert _near(image.getpixel((10, 40)), RED)


def test_a_16_bit_grey_scan_keeps_its_tones() -> None:
    output = io.BytesIO()
    Image.new("I;16", (60, 80), 0x8000).save(output, format="PNG")
    image = _opened(prepare_photo(output.getvalue()))
    assert _near(image.getpixel((30, 40)), (128, 128, 128))


@pytest.mark.skipif(not features.check("webp"), reason="this Pillow reads no WebP")
def test_a_webp_photo_is_accepted() -> None:
    output = io.BytesIO()
    _two_colour((200, 100)).save(output, format="WEBP")
    assert _opened(prepare_photo(output.getvalue())).size == (200, 100)


def _gif() -> bytes:
    output = io.BytesIO()
    _two_colour((20, 20)).save(output, format="GIF")
    return output.getvalue()


def _truncated_jpeg() -> bytes:
    output = io.BytesIO()
    _two_colour((400, 300)).save(output, format="JPEG")
    return output.getvalue()[:600]


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(b"Name: Ana Lupu\nBorn: 2018-02-01\n", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * (6 * 1024 * 1024), id="6-mb"),
        # Above twice Pillow's limit (it raises), above its limit (it only warns), and above
        # Tutela's own 50 megapixels only.
        pytest.param(_decompression_bomb(20_000), id="decompression-bomb-400-mp"),
        pytest.param(_decompression_bomb(10_000), id="decompression-bomb-100-mp"),
        pytest.param(_decompression_bomb(8_000), id="decompression-bomb-64-mp"),
        pytest.param(_gif(), id="gif"),
        pytest.param(_truncated_jpeg(), id="truncated-jpeg"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="svg"),
    ],
)
def test_anything_else_is_refused_with_the_message(upload: bytes) -> None:
    with pytest.raises(InputError) as refused:
        prepare_photo(upload)
    assert str(refused.value) == REFUSED


def test_the_bomb_is_a_small_file() -> None:
    bomb = _decompression_bomb()
    assert len(bomb) < 200_000
    assert struct.unpack(">II", bomb[16:24]) == (20_000, 20_000)  # IHDR's width and height


def test_a_photo_is_stored_sealed_and_comes_back(registry: Registry) -> None:
    child, _ = registry.children
    jpeg = prepare_photo(_phone_jpeg())
    with registry.database.transaction() as session:
        add_photo(session, registry.master_key, child, jpeg, NOW)
    assert load_photo(registry, child) == Photo(content_type="image/jpeg", data=jpeg)
    with registry.database.reading() as session:
        sealed = session.scalar(select(ChildPhoto.sealed).where(ChildPhoto.child_id == child))
    assert sealed is not None
    assert jpeg not in sealed
    assert jpeg[:64] not in sealed
    assert jpeg[-64:] not in sealed


def test_a_child_without_a_photo_has_none(registry: Registry) -> None:
    assert load_photo(registry, registry.children[0]) is None


def test_a_sealed_photo_copied_to_another_child_does_not_open(registry: Registry) -> None:
    first, second = registry.children
    save_photo(registry, first, prepare_photo(_phone_jpeg()), NOW)
    save_photo(registry, second, _small_jpeg(), NOW)
    with registry.database.transaction() as session:
        sealed = session.scalar(select(ChildPhoto.sealed).where(ChildPhoto.child_id == first))
        session.execute(
            update(ChildPhoto).where(ChildPhoto.child_id == second).values(sealed=sealed)
        )
    with pytest.raises(CryptoError, match="could not be decrypted"):
        load_photo(registry, second)


def test_another_master_key_does_not_open_a_photo(registry: Registry) -> None:
    child, _ = registry.children
    save_photo(registry, child, _small_jpeg(), NOW)
    stranger = Registry(registry.database, MasterKey.generate(), registry.children)
    with pytest.raises(CryptoError):
        load_photo(stranger, child)


def test_a_photo_is_replaced_not_added_twice(registry: Registry) -> None:
    child, other = registry.children
    first, second = prepare_photo(_phone_jpeg()), _small_jpeg()
    with registry.database.transaction() as session:
        add_photo(session, registry.master_key, child, first, NOW)
    with registry.database.transaction() as session, pytest.raises(ConflictError):
        add_photo(session, registry.master_key, child, second, NOW)
    with registry.database.transaction() as session:
        replace_photo(session, registry.master_key, child, second, NOW)
    photo = load_photo(registry, child)
    assert photo is not None
    assert photo.data == second
    with registry.database.transaction() as session, pytest.raises(NotFoundError):
        replace_photo(session, registry.master_key, other, second, NOW)
    save_photo(registry, child, first, NOW)  # adds or replaces, in its own transaction
    assert load_photo(registry, child) == Photo("image/jpeg", first)


class AbandonedError(Exception):
    """The enrolment failed after the photo was added (the chain refused, say)."""


def _enrol_then_fail(registry: Registry, child: str) -> None:
    with registry.database.transaction() as session:
        add_photo(session, registry.master_key, child, _small_jpeg(), NOW)
        raise AbandonedError


def test_a_photo_rolls_back_with_its_transaction(registry: Registry) -> None:
    child, _ = registry.children
    with pytest.raises(AbandonedError):
        _enrol_then_fail(registry, child)
    assert load_photo(registry, child) is None


def _small_jpeg() -> PreparedPhoto:
    output = io.BytesIO()
    _two_colour((60, 80)).save(output, format="PNG")
    return prepare_photo(output.getvalue())
