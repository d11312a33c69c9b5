# Russian text is Cyrillic on purpose: letters that look Latin are not a mistake here.
# ruff: noqa: RUF001
"""The texts guardians receive, in English, Romanian and Russian.

Pure functions of the facts they show, so they are tested without a store. Names are shown
after a label ("Child: Ana") rather than inside a sentence, because Romanian and Russian
decline names and a template cannot. SMS in Latin script are sent without diacritics, so
that they fit one 160-character GSM message, as SMS in Romanian usually are.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final

LANGUAGES: Final = ("en", "ro", "ru")
FALLBACK_LANGUAGE: Final = "ro"
# A long name would push an SMS into a second part; the portal shows it in full.
SMS_NAME_CHARS: Final = 40
GSM_SINGLE_CHARS: Final = 160

# GSM 03.38's basic character set (extension characters cost two and are left out).
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@dataclass(frozen=True)
class CrossingFacts:
    """What a guardian is asked about; every string already opened from the store."""

    request_id: int
    guardian_name: str
    child_name: str
    leaving: bool
    border_point: str
    companion_name: str
    companion_is_guardian: bool
    seconds_left: int
    has_phone: bool


@dataclass(frozen=True)
class EmailText:
    subject: str
    body: str


def language_of(code: str | None) -> str:
    """One of :data:`LANGUAGES`; an unknown code falls back to Romanian, the account default."""
    return code if code in LANGUAGES else FALLBACK_LANGUAGE


def crossing_email(language: str, facts: CrossingFacts, link: str) -> EmailText:
    """The e-mail asking a guardian to approve or refuse a crossing."""
    text = _CROSSING_EMAIL[language_of(language)]
    sms_hint = text["sms_hint"].format(n=facts.request_id) if facts.has_phone else ""
    body = text["body"].format(
        guardian=facts.guardian_name,
        child=facts.child_name,
        direction=text["leaving" if facts.leaving else "entering"],
        border_point=facts.border_point,
        companion=facts.companion_name,
        companion_role=text["guardian" if facts.companion_is_guardian else "not_guardian"],
        time_left=time_left(language, facts.seconds_left),
        n=facts.request_id,
        link=link,
        sms_hint=sms_hint,
    )
    subject = text["subject"].format(child=facts.child_name, n=facts.request_id)
    return EmailText(subject=subject, body=body)


def crossing_sms(language: str, facts: CrossingFacts) -> str:
    """The short SMS: who, where, with whom, and how to answer."""
    chosen = language_of(language)
    template = _CROSSING_SMS[chosen]["leaving" if facts.leaving else "entering"]
    text = template.format(
        child=_short(facts.child_name),
        border_point=facts.border_point,
        companion=_short(facts.companion_name),
        n=facts.request_id,
    )
    return text if chosen == "ru" else gsm_friendly(text)


def activation_email(
    language: str, name: str, code: str, expires_at: datetime, link: str
) -> EmailText:
    """The e-mail carrying a new guardian's one-time activation code."""
    text = _ACTIVATION_EMAIL[language_of(language)]
    body = text["body"].format(
        name=name, code=code, expires=f"{expires_at:%Y-%m-%d %H:%M} UTC", link=link
    )
    return EmailText(subject=text["subject"], body=body)


def sms_answer(language: str, outcome: str, request_id: int | None) -> str:
    """The SMS sent back to a guardian's reply, for one of :data:`ANSWER_OUTCOMES`."""
    chosen = language_of(language)
    text = _ANSWERS[chosen][outcome].format(n=request_id if request_id is not None else "")
    return text if chosen == "ru" else gsm_friendly(text)


def time_left(language: str, seconds: int) -> str:
    """``1 hour and 5 minutes``, in the language's words and plural forms."""
    chosen = language_of(language)
    minutes = max(0, seconds) // 60
    if minutes == 0:
        return _LESS_THAN_A_MINUTE[chosen]
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [(count, unit) for count, unit in parts if count][:2]
    words = [_quantity(chosen, count, unit) for count, unit in shown]
    return _AND[chosen].join(words)


def gsm_friendly(text: str) -> str:
    """Latin text without diacritics (ă→a, ț→t), so it stays in the GSM alphabet."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def sms_parts(text: str) -> int:
    """How many SMS ``text`` takes: GSM-7 (160, then 153 a part) or UCS-2 (70, then 67)."""
    single, multi = (160, 153) if all(c in _GSM_BASIC for c in text) else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // multi)


def _short(name: str) -> str:
    return name if len(name) <= SMS_NAME_CHARS else name[: SMS_NAME_CHARS - 1].rstrip() + "."


def _quantity(language: str, count: int, unit: str) -> str:
    if language == "en":
        return f"{count} {unit}" + ("" if count == 1 else "s")
    if language == "ro":
        if count == 1:
            return _RO_ONE[unit]
        # Romanian puts "de" between a number and its noun from 20 on (20 de minute, 101 minute).
        joiner = " de " if count % 100 >= 20 or count % 100 == 0 else " "
        return f"{count}{joiner}{_RO_UNITS[unit]}"
    one, few, many = _RU_UNITS[unit]
    if count % 10 == 1 and count % 100 != 11:
        form = one
    elif 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        form = few
    else:
        form = many
    return f"{count} {form}"


_LESS_THAN_A_MINUTE: Final = {
    "en": "less than a minute",
    "ro": "mai puțin de un minut",
    "ru": "меньше минуты",
}
_AND: Final = {"en": " and ", "ro": " și ", "ru": " "}
_RO_UNITS: Final = {"day": "zile", "hour": "ore", "minute": "minute"}
_RO_ONE: Final = {"day": "o zi", "hour": "o oră", "minute": "un minut"}
_RU_UNITS: Final = {
    "day": ("день", "дня", "дней"),
    "hour": ("час", "часа", "часов"),
    "minute": ("минута", "минуты", "минут"),
}

_CROSSING_EMAIL: Final = {
    "en": {
        "subject": "Tutela: your decision is needed for {child}'s border crossing (request {n})",
        "leaving": "leaving the country",
        "entering": "entering the country",
        "guardian": "one of the child's guardians",
        "not_guardian": "not a guardian of the child",
        "sms_hint": (
            "\nWithout a smartphone, answer by SMS: YES {n} followed by your PIN, "
            "or NO {n} followed by your PIN.\n"
        ),
        "body": (
            "Hello {guardian},\n\n"
            "A border officer asks for your decision about a border crossing of a child in "
            "your care.\n\n"
            "Child: {child}\n"
            "Crossing: {direction}\n"
            "Border point: {border_point}\n"
            "Travelling with: {companion} ({companion_role})\n"
            "Time left to answer: {time_left}\n"
            "Request number: {n}\n\n"
            "Approve or refuse the request in the Tutela portal:\n"
            "{link}\n"
            "{sms_hint}\n"
            "If you know nothing about this journey, refuse it.\n\n"
            "This message was sent automatically by Tutela, the child registry. "
            "Please do not reply to this e-mail.\n"
        ),
    },
    "ro": {
        "subject": "Tutela: este necesară decizia dumneavoastră pentru {child} (cererea {n})",
        "leaving": "ieșire din țară",
        "entering": "intrare în țară",
        "guardian": "unul dintre reprezentanții legali ai copilului",
        "not_guardian": "nu este reprezentant legal al copilului",
        "sms_hint": (
            "\nDacă nu aveți smartphone, răspundeți prin SMS: DA {n} urmat de codul PIN "
            "sau NU {n} urmat de codul PIN.\n"
        ),
        "body": (
            "Bună ziua, {guardian},\n\n"
            "Un polițist de frontieră vă solicită decizia privind trecerea frontierei de "
            "către un copil aflat în grija dumneavoastră.\n\n"
            "Copilul: {child}\n"
            "Trecerea: {direction}\n"
            "Punctul de trecere: {border_point}\n"
            "Însoțitor: {companion} ({companion_role})\n"
            "Timp rămas pentru răspuns: {time_left}\n"
            "Numărul cererii: {n}\n\n"
            "Aprobați sau refuzați cererea în portalul Tutela:\n"
            "{link}\n"
            "{sms_hint}\n"
            "Dacă nu știți nimic despre această călătorie, refuzați cererea.\n\n"
            "Acest mesaj a fost trimis automat de Tutela, registrul copiilor. "
            "Vă rugăm să nu răspundeți la acest e-mail.\n"
        ),
    },
    "ru": {
        "subject": "Tutela: требуется ваше решение о пересечении границы — {child} (запрос {n})",
        "leaving": "выезд из страны",
        "entering": "въезд в страну",
        "guardian": "один из законных представителей ребёнка",
        "not_guardian": "не является законным представителем ребёнка",
        "sms_hint": (
            "\nЕсли у вас нет смартфона, ответьте по SMS: ДА {n} и ваш PIN-код "
            "или НЕТ {n} и ваш PIN-код.\n"
        ),
        "body": (
            "Здравствуйте, {guardian}!\n\n"
            "Пограничник просит вашего решения о пересечении границы ребёнком, "
            "находящимся на вашем попечении.\n\n"
            "Ребёнок: {child}\n"
            "Направление: {direction}\n"
            "Пункт пропуска: {border_point}\n"
            "Сопровождающий: {companion} ({companion_role})\n"
            "На ответ осталось: {time_left}\n"
            "Номер запроса: {n}\n\n"
            "Одобрите или отклоните запрос на портале Tutela:\n"
            "{link}\n"
            "{sms_hint}\n"
            "Если вы ничего не знаете об этой поездке, отклоните запрос.\n\n"
            "Это сообщение отправлено автоматически системой Tutela, реестром детей. "
            "Пожалуйста, не отвечайте на это письмо.\n"
        ),
    },
}

_CROSSING_SMS: Final = {
    "en": {
        "leaving": "Tutela: {child} leaving via {border_point} with {companion}. "
        "Reply YES {n} <PIN> or NO {n} <PIN>",
        "entering": "Tutela: {child} entering via {border_point} with {companion}. "
        "Reply YES {n} <PIN> or NO {n} <PIN>",
    },
    "ro": {
        "leaving": "Tutela: {child} pleacă din țară prin {border_point} cu {companion}. "
        "Răspundeți DA {n} <PIN> sau NU {n} <PIN>",
        "entering": "Tutela: {child} intră în țară prin {border_point} cu {companion}. "
        "Răspundeți DA {n} <PIN> sau NU {n} <PIN>",
    },
    "ru": {
        "leaving": "Tutela: {child}, выезд через {border_point}, сопровождает {companion}. "
        "Ответьте ДА {n} <PIN> или НЕТ {n} <PIN>",
        "entering": "Tutela: {child}, въезд через {border_point}, сопровождает {companion}. "
        "Ответьте ДА {n} <PIN> или НЕТ {n} <PIN>",
    },
}

_ACTIVATION_EMAIL: Final = {
    "en": {
        "subject": "Tutela: your activation code",
        "body": (
            "Hello {name},\n\n"
            "The child registry has registered you in Tutela as the guardian of a child. "
            "To approve or refuse your children's border crossings, activate your account:\n\n"
            "1. Open {link}\n"
            "2. Enter the number of your identity document and this activation code:\n\n"
            "   {code}\n\n"
            "3. Choose a password and a 6-digit PIN.\n\n"
            "The code works only once and expires on {expires}. Keep it to yourself: "
            "nobody from Tutela will ever ask you for it.\n\n"
            "If you did not expect this message, please tell the registry office.\n"
        ),
    },
    "ro": {
        "subject": "Tutela: codul dumneavoastră de activare",
        "body": (
            "Bună ziua, {name},\n\n"
            "Registrul copiilor v-a înregistrat în Tutela ca reprezentant legal al unui copil. "
            "Pentru a aproba sau a refuza trecerile frontierei ale copiilor dumneavoastră, "
            "activați-vă contul:\n\n"
            "1. Deschideți {link}\n"
            "2. Introduceți numărul actului de identitate și acest cod de activare:\n\n"
            "   {code}\n\n"
            "3. Alegeți o parolă și un cod PIN din 6 cifre.\n\n"
            "Codul poate fi folosit o singură dată și este valabil până la {expires}. "
            "Nu-l comunicați nimănui: nimeni de la Tutela nu vi-l va cere vreodată.\n\n"
            "Dacă nu vă așteptați la acest mesaj, vă rugăm să anunțați oficiul registrului.\n"
        ),
    },
    "ru": {
        "subject": "Tutela: ваш код активации",
        "body": (
            "Здравствуйте, {name}!\n\n"
            "Реестр детей зарегистрировал вас в Tutela как законного представителя ребёнка. "
            "Чтобы одобрять или отклонять пересечение границы вашими детьми, активируйте "
            "свою учётную запись:\n\n"
            "1. Откройте {link}\n"
            "2. Введите номер вашего удостоверения личности и этот код активации:\n\n"
            "   {code}\n\n"
            "3. Придумайте пароль и PIN-код из 6 цифр.\n\n"
            "Код можно использовать только один раз, он действителен до {expires}. "
            "Никому его не сообщайте: сотрудники Tutela никогда не попросят его у вас.\n\n"
            "Если вы не ждали этого письма, пожалуйста, сообщите в отдел реестра.\n"
        ),
    },
}

_ANSWERS: Final = {
    "en": {
        "approved": "Tutela: your approval of request {n} is recorded.",
        "approved-waiting": "Tutela: your approval of request {n} is recorded. "
        "Another approval is still needed.",
        "denied": "Tutela: your refusal of request {n} is recorded.",
        "wrong-pin": "Tutela: wrong PIN. Nothing was recorded.",
        "not-pending": "Tutela: request {n} is not pending any more.",
        "already-decided": "Tutela: you have already answered request {n}.",
        "unknown-request": "Tutela: unknown request {n}.",
        "too-many-replies": "Tutela: too many replies, try again in 15 minutes.",
        "too-many-wrong-pins": "Tutela: too many wrong PINs, try again in 15 minutes.",
        "malformed": "Tutela: reply YES <number> <PIN> or NO <number> <PIN>.",
        "not-activated": "Tutela: activate your account in the portal first, "
        "then answer with your PIN.",
        "shared-phone": "Tutela: several guardians use this phone. Please answer in the portal.",
        "failed": "Tutela: your answer could not be recorded now. "
        "Try again later or use the portal.",
    },
    "ro": {
        "approved": "Tutela: aprobarea cererii {n} a fost înregistrată.",
        "approved-waiting": "Tutela: aprobarea cererii {n} a fost înregistrată. "
        "Mai este necesară o aprobare.",
        "denied": "Tutela: refuzul cererii {n} a fost înregistrat.",
        "wrong-pin": "Tutela: cod PIN greșit. Nu s-a înregistrat nimic.",
        "not-pending": "Tutela: cererea {n} nu mai așteaptă răspuns.",
        "already-decided": "Tutela: ați răspuns deja la cererea {n}.",
        "unknown-request": "Tutela: cererea {n} nu există.",
        "too-many-replies": "Tutela: prea multe răspunsuri, încercați din nou peste 15 minute.",
        "too-many-wrong-pins": "Tutela: prea multe coduri PIN greșite, "
        "încercați din nou peste 15 minute.",
        "malformed": "Tutela: răspundeți DA <număr> <PIN> sau NU <număr> <PIN>.",
        "not-activated": "Tutela: activați mai întâi contul în portal, "
        "apoi răspundeți cu codul PIN.",
        "shared-phone": "Tutela: acest telefon este folosit de mai mulți reprezentanți legali. "
        "Răspundeți în portal.",
        "failed": "Tutela: răspunsul nu a putut fi înregistrat acum. "
        "Încercați mai târziu sau folosiți portalul.",
    },
    "ru": {
        "approved": "Tutela: ваше согласие по запросу {n} записано.",
        "approved-waiting": "Tutela: ваше согласие по запросу {n} записано. "
        "Нужно ещё одно одобрение.",
        "denied": "Tutela: ваш отказ по запросу {n} записан.",
        "wrong-pin": "Tutela: неверный PIN-код. Ничего не записано.",
        "not-pending": "Tutela: запрос {n} больше не ожидает ответа.",
        "already-decided": "Tutela: вы уже ответили на запрос {n}.",
        "unknown-request": "Tutela: запрос {n} не найден.",
        "too-many-replies": "Tutela: слишком много ответов, попробуйте снова через 15 минут.",
        "too-many-wrong-pins": "Tutela: слишком много неверных PIN-кодов, "
        "попробуйте снова через 15 минут.",
        "malformed": "Tutela: ответьте ДА <номер> <PIN> или НЕТ <номер> <PIN>.",
        "not-activated": "Tutela: сначала активируйте учётную запись на портале, "
        "затем отвечайте с PIN-кодом.",
        "shared-phone": "Tutela: этим телефоном пользуются несколько законных представителей. "
        "Ответьте на портале.",
        "failed": "Tutela: не удалось записать ваш ответ. "
        "Попробуйте позже или воспользуйтесь порталом.",
    },
}

ANSWER_OUTCOMES: Final = tuple(_ANSWERS["en"])
