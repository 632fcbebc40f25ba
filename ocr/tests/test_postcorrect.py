"""OCR post-correction: uncertain words of free text against the German word list (wngerman), never
numbers, IDs, amounts or dates."""

import pytest
from django.test import override_settings

from ocr import postcorrect
from ocr.options import defaults
from ocr.pipeline import run_pipeline
from ocr.types import Word

BOX = (0.1, 0.1, 0.2, 0.12)


def _words(*texts, confidence=0.4):
    return [Word(text, BOX, confidence, line=0) for text in texts]


def test_it_corrects_uncertain_free_text_words_and_keeps_their_punctuation():
    words, changed = postcorrect.correct_words(_words("Rechnnng:", "Gesarntbetrag", "StraBe,", "Bankverbinduug"))

    assert [word.text for word in words] == ["Rechnung:", "Gesamtbetrag", "Straße,", "Bankverbindung"]
    assert changed == 4
    assert all(word.confidence == 0.4 and word.bbox == BOX for word in words)  # still shown as uncertain


@pytest.mark.parametrize(
    "text",
    [
        "1.234,56",  # amount
        "12.03.2026",  # date
        "DE89370400440532013000",  # IBAN
        "DE123456789",  # USt-IdNr
        "RE-2026-0042",  # invoice number
        "GmbH",  # mixed case
        "USTID",  # all capitals: a code or abbreviation
        "Rech",  # too short to judge
        "Rechnung",  # already a word
        "Lieferadresse",  # unknown, and no single-edit word: left as read
    ],
)
def test_it_never_touches_numbers_ids_amounts_dates_or_known_words(text):
    words, changed = postcorrect.correct_words(_words(text))
    assert words[0].text == text and changed == 0


def test_it_leaves_confident_and_ambiguous_words_as_read():
    confident, changed = postcorrect.correct_words(_words("Rechnnng", confidence=0.95))
    assert confident[0].text == "Rechnnng" and changed == 0
    # "Hanb": Hand, Hans, Hank ... several single edits are words; none is chosen.
    assert postcorrect.suggestion("Hanb", postcorrect.known_words()) is None


def test_the_pipeline_notes_a_missing_word_list_instead_of_failing(scanned_png, tmp_path):
    options = defaults().but(postcorrect=True, searchable_pdf=False, backend="tesseract")
    with override_settings(ABLAGE_SPELLING_WORDLIST=str(tmp_path / "fehlt")):
        output = run_pipeline(scanned_png, options=options)
    try:
        assert output.pages and output.pages[0].content.words
        assert any("Wortliste für die Nachkorrektur fehlt" in note for note in output.notes)
        assert "postcorrect" in output.timings_ms
    finally:
        output.close()


def test_the_pipeline_corrects_with_the_word_list_it_is_given(scanned_png, tmp_path, monkeypatch):
    # Every word counts as doubted here, so the scan need not be a bad one.
    monkeypatch.setattr(postcorrect, "LOW_CONFIDENCE", 1.01)
    options = defaults().but(searchable_pdf=False, backend="tesseract")
    plain = run_pipeline(scanned_png, options=options.but(postcorrect=False))
    try:
        free_text = [
            word.text.strip(".,:;")
            for word in plain.pages[0].content.words
            if postcorrect.is_free_text(word.text.strip(".,:;"))
        ]
        untouched = [word.text for word in plain.pages[0].content.words if any(c.isdigit() for c in word.text)]
    finally:
        plain.close()
    assert free_text and untouched
    target = free_text[0]
    # A word list in which exactly one word is one letter away from the word OCR read.
    meant = (target[:-1] + ("a" if target[-1] != "a" else "e")).lower()
    word_list = tmp_path / "woerter"
    word_list.write_text(f"{meant}\n", encoding="utf-8")

    with override_settings(ABLAGE_SPELLING_WORDLIST=str(word_list)):
        corrected = run_pipeline(scanned_png, options=options.but(postcorrect=True))
    try:
        words = corrected.pages[0].content.words
        assert meant in [word.text.strip(".,:;").lower() for word in words]
        assert target not in [word.text.strip(".,:;") for word in words]
        assert [word.text for word in words if any(c.isdigit() for c in word.text)] == untouched
        assert any("unsichere Wörter nach dem Wörterbuch korrigiert" in note for note in corrected.notes)
    finally:
        corrected.close()
