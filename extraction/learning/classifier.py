"""Document type learned from the types clerks confirmed: a multinomial naive Bayes over folded words.

Features are the folded words of the document (letters only, at least 3 long), and the words of
the title area again with a ``t:`` prefix: what a document calls itself on top says most.
Laplace smoothing; the vocabulary is cut to the ``MAX_VOCABULARY`` most frequent tokens so the
stored JSON stays small. The model is plain JSON (``to_json``/``from_json``), never pickle: the
database is no place to load code from.

``extraction.classify.classify`` adds the posterior of each type, times ``LEARNED_WEIGHT``, to the
keyword scores, so a confident model can settle what the keywords leave open, but cannot
overrule a clear title on its own.
"""

import math
from collections import Counter
from dataclasses import dataclass, field

from extraction.layout import PageLayout
from extraction.normalize import fold

MAX_VOCABULARY = 3000
MIN_TOKEN_LENGTH = 3
TITLE_AREA = 0.3  # top share of the first page
FORMAT = 1


def tokens(layouts: list[PageLayout]) -> list[str]:
    result = []
    for page in layouts:
        for line in page.lines:
            title = page.number == 1 and line.bbox[1] <= TITLE_AREA
            for word in line.words:
                token = fold(word.text)
                if len(token) < MIN_TOKEN_LENGTH or not token.isalpha():
                    continue
                result.append(token)
                if title:
                    result.append(f"t:{token}")
    return result


@dataclass
class NaiveBayes:
    """Per type: the documents seen and the count of each token (of the vocabulary kept at training)."""

    documents: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def train(cls, examples: list[tuple[list[str], str]]) -> "NaiveBayes":
        frequency = Counter(token for words, _ in examples for token in words)
        vocabulary = {token for token, _ in frequency.most_common(MAX_VOCABULARY)}
        model = cls()
        for words, label in examples:
            model.documents[label] = model.documents.get(label, 0) + 1
            counts = model.counts.setdefault(label, {})
            for token in words:
                if token in vocabulary:
                    counts[token] = counts.get(token, 0) + 1
        return model

    @property
    def vocabulary(self) -> set[str]:
        return {token for counts in self.counts.values() for token in counts}

    def posteriors(self, words: list[str], *, leave_out: tuple[list[str], str] | None = None) -> dict[str, float]:
        """P(type | words); ``leave_out`` removes one training example first (leave-one-out)."""
        documents = dict(self.documents)
        removed: Counter = Counter()
        if leave_out is not None:
            left_words, left_label = leave_out
            documents[left_label] -= 1
            removed = Counter(token for token in left_words if token in self.counts.get(left_label, {}))
        labels = [label for label, count in documents.items() if count > 0]
        if not labels:
            return {}
        vocabulary = self.vocabulary
        size = max(1, len(vocabulary))
        total_documents = sum(documents[label] for label in labels)
        scores = {}
        for label in labels:
            counts = self.counts.get(label, {})
            taken = removed if leave_out is not None and label == leave_out[1] else Counter()
            total = sum(counts.values()) - sum(taken.values())
            score = math.log(documents[label] / total_documents)
            for token in words:
                if token in vocabulary:
                    score += math.log((counts.get(token, 0) - taken.get(token, 0) + 1) / (total + size))
            scores[label] = score
        top = max(scores.values())
        exponents = {label: math.exp(score - top) for label, score in scores.items()}
        norm = sum(exponents.values())
        return {label: value / norm for label, value in exponents.items()}

    def predict(self, words: list[str]) -> tuple[str, float] | None:
        posteriors = self.posteriors(words)
        if not posteriors:
            return None
        label = max(sorted(posteriors), key=posteriors.get)
        return label, posteriors[label]

    def to_json(self) -> dict:
        return {"format": FORMAT, "documents": self.documents, "counts": self.counts}

    @classmethod
    def from_json(cls, data) -> "NaiveBayes":
        """Validates the shape: a hand-edited or foreign row must not break classification."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("Unbekanntes Modellformat.")
        documents, counts = data.get("documents"), data.get("counts")
        if not isinstance(documents, dict) or not isinstance(counts, dict):
            raise ValueError("Modell ohne Dokument- oder Wortzahlen.")
        for label, count in documents.items():
            if not isinstance(label, str) or isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError("Ungültige Dokumentzahl im Modell.")
        for tokens_of in counts.values():
            if not isinstance(tokens_of, dict) or not all(
                isinstance(token, str) and isinstance(n, int) and not isinstance(n, bool) and n >= 0
                for token, n in tokens_of.items()
            ):
                raise ValueError("Ungültige Wortzahlen im Modell.")
        return cls(documents=dict(documents), counts={label: dict(c) for label, c in counts.items()})


def leave_one_out_accuracy(model: NaiveBayes, examples: list[tuple[list[str], str]]) -> float | None:
    """Share of examples the model gets right when trained on all the others (exact for naive Bayes)."""
    if len(examples) < 2:
        return None
    right = 0
    for words, label in examples:
        posteriors = model.posteriors(words, leave_out=(words, label))
        if posteriors and max(sorted(posteriors), key=posteriors.get) == label:
            right += 1
    return right / len(examples)
