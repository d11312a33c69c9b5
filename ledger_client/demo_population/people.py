"""Made-up Moldovan people for the demo population: names, documents, e-mails, places.

Names are Romanian and Russian (as Moldova's civil registry writes them, in Latin letters),
documents look like the demo's ``MD-0912-3345``, and every e-mail is at example.org, a domain
reserved for examples: a demo folder can never mail a real person.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

ROMANIAN_MEN = (
    "Ion", "Andrei", "Mihai", "Vasile", "Alexandru", "Nicolae", "Sergiu", "Victor", "Dumitru",
    "Gheorghe", "Vlad", "Radu", "Petru", "Igor", "Eugen", "Valeriu", "Marin", "Cristian",
    "Adrian", "Octavian", "Tudor", "Dan", "Florin", "Iurie", "Veaceslav", "Ghenadie",
)  # fmt: skip
ROMANIAN_WOMEN = (
    "Maria", "Elena", "Ana", "Ioana", "Cristina", "Natalia", "Tatiana", "Olga", "Svetlana",
    "Irina", "Diana", "Mariana", "Doina", "Lilia", "Angela", "Valentina", "Aurelia", "Corina",
    "Daniela", "Liliana", "Galina", "Violeta", "Rodica", "Victoria", "Nadejda", "Silvia",
)  # fmt: skip
ROMANIAN_FAMILIES = (
    "Popescu", "Rusu", "Ceban", "Cebotari", "Lungu", "Ciobanu", "Munteanu", "Moraru",
    "Țurcanu", "Rotaru", "Sârbu", "Cojocaru", "Bivol", "Botnaru", "Lupu", "Cazacu", "Grosu",
    "Roșca", "Plămădeală", "Balan", "Melnic", "Guțu", "Ursu", "Bejenaru", "Vrabie", "Cucu",
    "Negru", "Croitoru", "Donică", "Oprea", "Ababii", "Postolache", "Spânu", "Țâbîrnă",
    "Bostan", "Railean", "Cernei", "Gârlea", "Covaliov", "Mocanu",
)  # fmt: skip
RUSSIAN_MEN = (
    "Alexei", "Dmitri", "Serghei", "Nikolai", "Vladimir", "Oleg", "Pavel", "Iuri", "Mihail",
    "Konstantin", "Roman", "Artiom", "Maxim", "Igor", "Evgheni", "Stanislav",
)  # fmt: skip
RUSSIAN_WOMEN = (
    "Olga", "Natalia", "Irina", "Svetlana", "Tatiana", "Ekaterina", "Anna", "Elena", "Iulia",
    "Marina", "Ludmila", "Galina", "Veronica", "Alina", "Daria", "Larisa",
)  # fmt: skip
RUSSIAN_FAMILIES = (
    "Ivanov", "Petrov", "Smirnov", "Popov", "Kuznețov", "Morozov", "Volkov", "Sokolov",
    "Pavlov", "Semionov", "Vasiliev", "Nikolaev", "Zaharov", "Bondarenko", "Kovalenko",
    "Tkaciuk", "Sidorenko", "Lebedev", "Kozlov", "Egorov", "Grigoriev", "Fiodorov",
)  # fmt: skip
BOYS = (
    "David", "Matei", "Luca", "Daniel", "Nichita", "Maxim", "Artiom", "Ștefan", "Gabriel",
    "Cristian", "Mihai", "Andrei", "Alexandru", "Ion", "Victor", "Tudor", "Eric", "Mark",
    "Timofei", "Denis",
)  # fmt: skip
GIRLS = (
    "Daria", "Sofia", "Alexandra", "Eva", "Amelia", "Emilia", "Sara", "Mihaela", "Anastasia",
    "Victoria", "Maria", "Ana", "Elena", "Iulia", "Polina", "Valeria", "Adelina", "Cătălina",
    "Alina", "Milena",
)  # fmt: skip
# Chișinău weighs most, as it does in the registry.
PLACES = (
    ("Chișinău", 30), ("Bălți", 8), ("Cahul", 4), ("Ungheni", 4), ("Soroca", 3), ("Orhei", 4),
    ("Comrat", 3), ("Edineț", 2), ("Hîncești", 3), ("Strășeni", 3), ("Căușeni", 2),
    ("Drochia", 2), ("Florești", 2), ("Ialoveni", 3), ("Nisporeni", 2), ("Briceni", 2),
    ("Ocnița", 1), ("Criuleni", 2), ("Anenii Noi", 2), ("Cimișlia", 2), ("Leova", 1),
    ("Glodeni", 1), ("Fălești", 2), ("Rîșcani", 1), ("Sîngerei", 2), ("Taraclia", 1),
    ("Ceadîr-Lunga", 2),
)  # fmt: skip
# Moldova's road crossings (short codes, at most 16 characters as the ledger allows) and
# Chișinău airport; weights follow how much traffic each sees: Romania and the airport most.
BORDER_POINTS = (
    ("LEUSENI", 30), ("AEROPORT-KIV", 25), ("SCULENI", 12), ("GIURGIULESTI", 8),
    ("PALANCA", 10), ("OTACI", 5), ("CRIVA", 4), ("TUDORA", 3), ("COSTESTI", 3),
)  # fmt: skip
# The documents of guardian_portal/demo.py's people, which the population must not reuse.
RESERVED_DOCUMENTS = frozenset({"MD09123345", "MD08771290", "MD04552201"})


@dataclass(frozen=True)
class Person:
    """An adult: a parent, a relative or a stranger who travels with children."""

    key: str
    given: str
    family: str
    document: str  # as typed, "MD-1234-5678"
    email: str
    woman: bool

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def spec(self) -> str:
        """The registry's ``NAME;DOCUMENT;EMAIL`` form."""
        return f"{self.name};{self.document};{self.email}"


class Namer:
    """Draws names, documents and e-mails from one seeded random source, never twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._documents: set[str] = set(RESERVED_DOCUMENTS)
        self._emails: set[str] = set()
        self._people = 0

    def family_name(self, russian: bool) -> str:
        return self.rng.choice(RUSSIAN_FAMILIES if russian else ROMANIAN_FAMILIES)

    def person(self, family: str, *, woman: bool, russian: bool) -> Person:
        """A new adult of the family ``family`` (given in its men's form)."""
        if russian:
            given = self.rng.choice(RUSSIAN_WOMEN if woman else RUSSIAN_MEN)
        else:
            given = self.rng.choice(ROMANIAN_WOMEN if woman else ROMANIAN_MEN)
        surname = womans_form(family) if woman else family
        self._people += 1
        email = self._email(given, surname)
        return Person(f"p{self._people}", given, surname, self.document(), email, woman)

    def child_name(self, *, girl: bool) -> str:
        return self.rng.choice(GIRLS if girl else BOYS)

    def place(self) -> str:
        return weighted(self.rng, PLACES)

    def border_point(self, *, other_than: str | None = None) -> str:
        while True:
            point = weighted(self.rng, BORDER_POINTS)
            if point != other_than:
                return point

    def document(self) -> str:
        while True:
            number = f"MD-{self.rng.randrange(10_000):04d}-{self.rng.randrange(10_000):04d}"
            if number.replace("-", "") not in self._documents:
                self._documents.add(number.replace("-", ""))
                return number

    def _email(self, given: str, family: str) -> str:
        base = f"{ascii_of(given)}.{ascii_of(family)}".lower()
        address, n = f"{base}@example.org", 1
        while address in self._emails:
            n += 1
            address = f"{base}{n}@example.org"
        self._emails.add(address)
        return address


def womans_form(family: str) -> str:
    """A Russian surname's feminine form (Ivanov -> Ivanova); Romanian ones do not change."""
    if family.endswith(("ov", "ev", "in")):
        return family + "a"
    return family


def ascii_of(text: str) -> str:
    """Letters without their diacritics, for e-mail addresses (Țurcanu -> Turcanu)."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c == "-"))


def weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    values, weights = zip(*choices, strict=True)
    return str(rng.choices(values, weights=weights)[0])
