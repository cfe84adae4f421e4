"""A deterministic, Zipf-weighted vocabulary of real-looking words (no downloads)."""

from __future__ import annotations

import itertools
import random

# The commonest English words: they lead the ranking, as in any real text.
FUNCTION_WORDS = (
    "the of and to a in is that for it as with was on be by this are we from or at an "
    "but not have which they you their can has will more one all its also when there been "
    "if so than into our these other about only some how what then most"
).split()

# Real words of the domain, mixed into the upper ranks so the prose reads like a tech blog.
DOMAIN_WORDS = (
    "content server index query cache commit branch release editor model field record "
    "schema search webhook markdown author category draft publish review merge deploy "
    "latency memory storage request response client api token version history folder "
    "file repository network build test design team product user page list filter sort "
    "performance database worker thread process queue event signal payload header route "
    "template preview locale translation image media upload theme layout component state "
    "session config setting option default value error warning log metric trace budget "
    "roadmap feedback customer support incident postmortem sprint planning meeting remote "
    "writer reader developer engineer designer manager pipeline workflow tooling library "
    "framework plugin module package dependency upgrade migration backup restore snapshot "
    "throughput benchmark profile baseline regression timeout retry backoff delivery"
).split()

_ONSETS = (
    "b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr bl cl fl gl pl sl ch sh th st sp"
)
_VOWELS = "a e i o u a e i o ai ea ou io ee oa"
_CODAS = ". . . n r l s t m nd st ng rk ct x"
_SUFFIXES = ". . . . ing ed er ly tion ment ness able s al ive"


class Vocabulary:
    """Ranked words with Zipf weights: the word at rank r is drawn with weight 1 / r**s."""

    def __init__(self, seed: int, size: int = 6000, exponent: float = 1.0) -> None:
        rng = random.Random(f"vocabulary-{seed}")
        self.words = _ranked(rng, size)
        self.cum_weights = list(
            itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, size + 1))
        )
        self.stop = frozenset(FUNCTION_WORDS)

    def draw(self, rng: random.Random, k: int) -> list[str]:
        """k words drawn independently by Zipf weight."""
        return rng.choices(self.words, cum_weights=self.cum_weights, k=k)

    def content_words(self, rng: random.Random, k: int) -> list[str]:
        """k words by Zipf weight, function words skipped (for titles, tags, headings)."""
        found: list[str] = []
        while len(found) < k:
            found.extend(w for w in self.draw(rng, k) if w not in self.stop)
        return found[:k]


def _ranked(rng: random.Random, size: int) -> list[str]:
    """Function words first, then domain words scattered among invented ones."""
    invented = _invent(rng, size, taken=set(FUNCTION_WORDS) | set(DOMAIN_WORDS))
    rest = invented[: size - len(FUNCTION_WORDS) - len(DOMAIN_WORDS)]
    for word in DOMAIN_WORDS:
        rest.insert(rng.randrange(0, 1500), word)
    return FUNCTION_WORDS + rest


def _invent(rng: random.Random, size: int, taken: set[str]) -> list[str]:
    """Pronounceable pseudo-words of one to three syllables, shortest most often."""
    onsets, vowels = _ONSETS.split(), _VOWELS.split()
    codas = [c.strip(".") for c in _CODAS.split()]
    suffixes = [s.strip(".") for s in _SUFFIXES.split()]
    words: list[str] = []
    seen = set(taken)
    while len(words) < size:
        syllables = rng.choices((1, 2, 3), weights=(3, 5, 2))[0]
        parts = [rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables)]
        word = "".join(parts) + rng.choice(codas) + rng.choice(suffixes)
        if 3 <= len(word) <= 13 and word not in seen:
            seen.add(word)
            words.append(word)
    return words
