"""Every message of the portal is translated into Romanian and Russian, and the compiled
catalogs are the ones the sources give."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "guardian_portal" / "translations"
LANGUAGES = ["ro", "ru"]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalog(language: str) -> Catalog:
    with (FOLDER / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


@pytest.fixture(scope="module")
def english_messages(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The messages in the code and templates now, extracted as scripts/translations.sh does."""
    template = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(template),
            str(ROOT / "guardian_portal"),
        ],
        check=True,
        capture_output=True,
    )
    with template.open("rb") as source:
        return {str(m.id) for m in read_po(source) if m.id}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str, english_messages: set[str]) -> None:
    catalog = _catalog(language)
    translated = {str(m.id): m for m in catalog if m.id}
    missing = sorted(english_messages - translated.keys())
    assert not missing, f"run scripts/translations.sh; {language} lacks {missing[:5]}"
    for msgid in english_messages:
        message = translated[msgid]
        assert message.string, f"{language}: no translation of {msgid!r}"
        assert not message.fuzzy, f"{language}: the translation of {msgid!r} is marked fuzzy"
        assert set(PLACEHOLDER.findall(str(message.string))) == set(PLACEHOLDER.findall(msgid)), (
            f"{language}: placeholders differ in {msgid!r}"
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogs_match_their_sources(language: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(language))
    shipped = (FOLDER / language / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert compiled.getvalue() == shipped, "run scripts/translations.sh to compile"
