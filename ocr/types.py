"""What every text source (PDF text layer, Tesseract, Surya) hands to extraction."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Word:
    """A word with its box, normalised to the page (0..1, origin top-left) and confidence 0..1."""

    text: str
    bbox: tuple[float, float, float, float]
    confidence: float = 1.0
    # Index of the backend's text line in reading order; -1 where the backend has no lines.
    line: int = -1

    def as_json(self) -> dict:
        data = {"t": self.text, "b": [round(c, 5) for c in self.bbox], "c": round(self.confidence, 3)}
        if self.line >= 0:
            data["l"] = self.line
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Word":
        # Stored words use the short keys of as_json; long keys ("text", "bbox", "confidence")
        # are accepted too, as hand-made or imported page data is written that way.
        if "t" not in data:
            return cls(
                text=data["text"],
                bbox=tuple(data["bbox"]),
                confidence=data.get("confidence", 1.0),
                line=data.get("line", -1),
            )
        return cls(text=data["t"], bbox=tuple(data["b"]), confidence=data["c"], line=data.get("l", -1))


@dataclass(slots=True)
class PageContent:
    """The words of one page (1-based ``number``) and where they came from."""

    number: int
    words: list[Word]
    source: str  # "text_layer" or "ocr"
    backend: str  # "pdf_text", "tesseract", "surya"
    width_px: int = 0
    height_px: int = 0
    dpi: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @property
    def average_confidence(self) -> float | None:
        if not self.words:
            return None
        return sum(word.confidence for word in self.words) / len(self.words)
