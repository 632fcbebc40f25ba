"""OCR post-correction with a German word list: uncertain words of free text become dictionary words.

Only a word OCR itself doubts (confidence below ``LOW_CONFIDENCE``) is looked at, and only
free text: letters only, at least ``MIN_LENGTH`` of them, lower case after an optional capital.
Anything with a digit (amounts, dates, invoice numbers, IBAN, USt-IdNr), all-capital tokens
(abbreviations, codes) and mixed-case names ("GmbH") are never touched. A word already in the
list stays. Otherwise the candidates are the typical OCR confusions ("rn" read for "m", "B"
for "ß", a lost umlaut) and every single-letter edit; a word is replaced only when exactly one
candidate is in the list (confusions first) — an ambiguous word is left as read.

The word list is the Debian package ``wngerman`` (``/usr/share/dict/ngerman``, new German
spelling, inflected forms included), ``ABLAGE_SPELLING_WORDLIST`` elsewhere. Without it the
correction is unavailable and the pipeline notes that instead of failing.

Whether it is on by default is decided by measurement: ``manage.py bench postcorrect`` reads
the generated scans once and compares the character error rate with and without it.
"""

import functools
from dataclasses import replace
from pathlib import Path

from django.conf import settings

from ocr.types import Word

# Raise when the rules below change what is corrected: part of the result cache's version.
POSTCORRECT_VERSION = "1"
LOW_CONFIDENCE = 0.6
MIN_LENGTH = 4
_ALPHABET = "abcdefghijklmnopqrstuvwxyzäöüß"
_EDGE_PUNCTUATION = ".,;:!?\"'()[]{}«»„“”‚‘’"
# (read, meant): what Tesseract confuses on German scans, beyond single-letter edits.
_CONFUSIONS = (
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("li", "h"),
    ("ii", "ü"),
    ("b", "ß"),
    ("ss", "ß"),
    ("vv", "w"),
)


class WordListMissing(Exception):
    pass


@functools.cache
def _known_words(path: str) -> frozenset[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WordListMissing(f"Wortliste für die Nachkorrektur fehlt ({path}): {exc.strerror}") from None
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def known_words() -> frozenset[str]:
    """The word list (lower case); ``WordListMissing`` when it is not installed."""
    return _known_words(settings.ABLAGE_SPELLING_WORDLIST)


def _split(text: str) -> tuple[str, str, str]:
    core = text.lstrip(_EDGE_PUNCTUATION)
    lead = text[: len(text) - len(core)]
    stripped = core.rstrip(_EDGE_PUNCTUATION)
    return lead, stripped, core[len(stripped) :]


def is_free_text(core: str) -> bool:
    """Letters only, long enough, and cased like an ordinary word ("Rechnung", "bitte").

    A capital B inside a word counts as lower case: it is how Tesseract reads ß ("StraBe").
    """
    return len(core) >= MIN_LENGTH and core.isalpha() and core[1:].replace("B", "b").islower()


def _confusion_candidates(lower: str) -> set[str]:
    found = set()
    for read, meant in _CONFUSIONS:
        start = lower.find(read)
        while start != -1:
            found.add(lower[:start] + meant + lower[start + len(read) :])
            start = lower.find(read, start + 1)
    return found


def _edit_candidates(lower: str) -> set[str]:
    splits = [(lower[:i], lower[i:]) for i in range(len(lower) + 1)]
    deletes = {left + right[1:] for left, right in splits if right}
    transposes = {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    replaces = {left + letter + right[1:] for left, right in splits if right for letter in _ALPHABET}
    inserts = {left + letter + right for left, right in splits for letter in _ALPHABET}
    return (deletes | transposes | replaces | inserts) - {lower}


def suggestion(core: str, words: frozenset[str]) -> str | None:
    """The one dictionary word ``core`` was most likely meant to be, or None."""
    lower = core.lower()
    if lower in words:
        return None
    for candidates in (_confusion_candidates(lower), _edit_candidates(lower)):
        known = {candidate for candidate in candidates if candidate in words}
        if len(known) == 1:
            (meant,) = known
            return meant.capitalize() if core[0].isupper() else meant
        if known:
            return None  # ambiguous: leave the word as read
    return None


def correct_words(words: list[Word], *, vocabulary: frozenset[str] | None = None) -> tuple[list[Word], int]:
    """``words`` with uncertain free-text words corrected, and how many were changed.

    Box, confidence and line stay: a corrected word is still one OCR doubted, and the review
    screen keeps showing it as uncertain.
    """
    vocabulary = known_words() if vocabulary is None else vocabulary
    corrected = []
    changed = 0
    for word in words:
        if word.confidence < LOW_CONFIDENCE:
            lead, core, trail = _split(word.text)
            if is_free_text(core):
                meant = suggestion(core, vocabulary)
                if meant is not None:
                    word = replace(word, text=f"{lead}{meant}{trail}")
                    changed += 1
        corrected.append(word)
    return corrected, changed
