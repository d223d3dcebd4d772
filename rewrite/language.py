"""Which language a text is in, for the guard: Google's CLD2 (pycld2, its model compiled in;
about 2 ms to import, microseconds a call), imported only when a reply is judged.

Only a confident answer counts: CLD2 must call it reliable and the text must have enough
letters to tell; otherwise the answer is None and no check is made on it.
"""

from __future__ import annotations

import re
from functools import lru_cache

MIN_LETTERS = 20
_LETTER = re.compile(r"[^\W\d_]")
# Names people give a target language besides CLD2's English ones.
_NATIVE_NAMES = {
    "deutsch": "de",
    "français": "fr",
    "francais": "fr",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
    "italiano": "it",
    "português": "pt",
    "portugues": "pt",
    "brazilian": "pt",
    "nederlands": "nl",
    "dutch": "nl",
    "polski": "pl",
    "svenska": "sv",
    "dansk": "da",
    "norsk": "no",
    "suomi": "fi",
    "русский": "ru",
    "日本語": "ja",
    "中文": "zh",
    "mandarin": "zh",
    "chinese": "zh",
    "한국어": "ko",
    "korean": "ko",
    "japanese": "ja",
    "türkçe": "tr",
    "ελληνικά": "el",
    "عربي": "ar",
    "עברית": "he",
    "हिन्दी": "hi",
}


def letters(text: str) -> int:
    return len(_LETTER.findall(text))


def detect(text: str) -> str | None:
    """The ISO 639-1 code of `text`'s language when CLD2 is sure of it, else None."""
    if letters(text) < MIN_LETTERS:
        return None
    import pycld2

    try:
        reliable, _, found = pycld2.detect(text, bestEffort=False)
    except pycld2.error:  # e.g. text that is not valid UTF-8
        return None
    code = str(found[0][1]) if found else "un"
    return _main_code(code) if reliable and code != "un" else None


def code_for(name: str) -> str | None:
    """The ISO 639-1 code of a language as a person names it: "German", "deutsch", "de",
    "pt-BR", "Brazilian Portuguese"; None when it is not known."""
    wanted = name.strip().casefold()
    if not wanted:
        return None
    names = _names()
    if re.fullmatch(r"[a-z]{2,3}(?:[-_][a-z0-9]+)*", wanted):
        code = _main_code(re.split(r"[-_]", wanted)[0])
        return code if code in names.values() and code not in ("un", "xx") else None
    for word in (wanted, *reversed(wanted.split())):
        if word in names:
            return names[word]
    return None


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    import pycld2

    table = {str(name).casefold(): _main_code(str(code)) for name, code in pycld2.LANGUAGES}
    table.update(_NATIVE_NAMES)
    return table


def _main_code(code: str) -> str:
    """ "zh-Hant" and "zh" are one language here."""
    return code.split("-")[0].lower()
