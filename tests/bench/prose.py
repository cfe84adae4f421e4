"""Markdown prose for synthetic posts: headings, paragraphs, lists, links and inline code."""

from __future__ import annotations

import random
from collections import Counter

from tests.bench.words import Vocabulary


class Prose:
    """Writes titles and Markdown bodies; counts the content words that bodies use."""

    def __init__(self, rng: random.Random, vocab: Vocabulary) -> None:
        self.rng = rng
        self.vocab = vocab
        self.used: Counter[str] = Counter()

    def title(self) -> str:
        """A title of three to seven words, the first capitalised."""
        words = self.vocab.draw(self.rng, self.rng.randint(1, 3))
        words += self.vocab.content_words(self.rng, self.rng.randint(2, 4))
        self.rng.shuffle(words)
        return " ".join(words).capitalize()

    def sentence(self, low: int = 8, high: int = 20) -> str:
        """One sentence; some carry a link, inline code or emphasis."""
        words = self.vocab.draw(self.rng, self.rng.randint(low, high))
        self.used.update(w for w in words if w not in self.vocab.stop)
        roll = self.rng.random()
        at = self.rng.randrange(1, len(words))
        if roll < 0.12:
            target = self.vocab.content_words(self.rng, 1)[0]
            words[at] = f"[{words[at]} {words[at - 1]}](https://example.com/docs/{target})"
        elif roll < 0.24:
            words[at] = f"`{words[at]}_{self.rng.choice(('id', 'at', 'count'))}()`"
        elif roll < 0.30:
            words[at] = f"**{words[at]}**"
        if len(words) > 10 and self.rng.random() < 0.4:
            words[len(words) // 2] += ","
        return " ".join(words).capitalize() + self.rng.choice(".......?!")

    def paragraph(self) -> str:
        """Three to six sentences."""
        return " ".join(self.sentence() for _ in range(self.rng.randint(3, 6)))

    def bullet_list(self) -> str:
        """A bulleted or numbered list of three to five short items."""
        numbered = self.rng.random() < 0.3
        items = [self.sentence(4, 10) for _ in range(self.rng.randint(3, 5))]
        marks = [f"{n}." if numbered else "-" for n in range(1, len(items) + 1)]
        return "\n".join(f"{mark} {item}" for mark, item in zip(marks, items, strict=True))

    def heading(self) -> str:
        """A level-two (sometimes level-three) heading."""
        words = self.vocab.content_words(self.rng, self.rng.randint(2, 5))
        self.used.update(words)
        level = "###" if self.rng.random() < 0.2 else "##"
        return f"{level} {' '.join(words).capitalize()}"

    def body(self, target: int) -> str:
        """Sections of heading, paragraphs and lists until the body reaches ~target chars."""
        blocks = [self.paragraph()]
        size = len(blocks[0])
        while size < target:
            section = [self.heading(), self.paragraph()]
            if self.rng.random() < 0.5:
                section.append(self.bullet_list())
            if self.rng.random() < 0.4:
                section.append(self.paragraph())
            blocks.extend(section)
            size += sum(len(b) + 2 for b in section)
        return "\n\n".join(blocks) + "\n"
