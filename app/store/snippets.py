"""Snippets: the best passages of a text around a query's words, each word in <mark>.

The passages are those Whoosh's highlighter chooses with a context fragmenter (160
characters at most, 60 of context around the words, the two best passages in text
order), found with one regular-expression pass over the text: Whoosh ran the whole
analyzer chain and built a token object for every word of every hit's body.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from html import escape
from itertools import accumulate

from whoosh.support.charset import accent_map

# The text index's tokenizer: runs of letters and digits, joined by a '.' or an apostrophe.
WORD = re.compile(r"\w+(?:[.']\w+)*")
SPLIT = re.compile(f"({WORD.pattern})")  # the text between words, then a word, and so on
MAX_CHARS = 160
SURROUND = 60
PASSAGES = 2
BETWEEN = " … "
CLASSES = 5  # term0 … term4, then the classes repeat
CHAR_LIMIT = 2**15  # words past this many characters are not looked at


def fold(word: str) -> str:
    """A word as the index holds it: lower case, accents folded."""
    word = word.lower()
    return word if word.isascii() else word.translate(accent_map)


def snippet(text: str, terms: tuple[str, ...]) -> str:
    """The best passages of `text` around the words `terms` (as the index holds them),
    each word in `<mark class="match termN">`, N its place in the query; "" when none of
    them is in the text."""
    wanted = frozenset(terms)
    passages = heapq.nlargest(PASSAGES, _passages(text, wanted))
    passages = sorted((p for p in passages if p[0] >= 1), key=lambda p: p[1])
    numbers = {w: n % CLASSES for n, w in enumerate(terms)}
    return BETWEEN.join(
        _format(text, start, end, marks, numbers) for _, start, end, marks in passages
    )


def _passages(text: str, wanted: frozenset[str]) -> Iterator[tuple]:
    """(score, start, end, marks) of each passage, in text order; marks are (start, end,
    word). The score favours passages holding several different words.

    Whoosh's context fragmenter, step for step, except that it leaps from one matched
    word to the next: outside a passage it only remembers the words of the last
    SURROUND characters, and those are found again by looking back from the match.
    """
    words, offsets = _words(text)
    matched = sorted(n for word in wanted for n in _places(words, word))
    if not matched:
        return
    count = limit = len(words)  # word k runs from offsets[2k] to offsets[2k + 1]
    if len(text) > CHAR_LIMIT:
        limit = next((k for k in range(count) if offsets[2 * k + 1] > CHAR_LIMIT), count)
    after = 0  # the first word after the last passage
    for n in matched:
        if n < after:
            continue
        if n >= limit:
            return
        first = _context_start(offsets, after, n)
        start, end = offsets[2 * n], offsets[2 * n + 1]
        if end - start > MAX_CHARS:  # a word longer than a passage: an empty passage
            yield (0, 0, min(len(text), end), [])
            after = n + 1
            continue
        countdown = SURROUND
        if first is None:
            first = start
            countdown += SURROUND
        marks = [(start, end, words[n])]
        length = end - start
        countdown -= end - start
        k = n
        while countdown > 0:
            k += 1
            if k >= limit:  # the text's last word, or the first past CHAR_LIMIT
                yield _scored(text, marks, first, offsets[2 * min(k, count - 1) + 1])
                return
            start, end = offsets[2 * k], offsets[2 * k + 1]
            size = end - start
            if length + size > MAX_CHARS:
                countdown = 0  # the passage is full: it ends with this word
            elif words[k] in wanted:
                countdown = SURROUND
                marks.append((start, end, words[k]))
            length += size
            countdown -= size
        yield _scored(text, marks, first, end)
        after = k + 1
        if countdown == 0 and after < limit and words[after] not in wanted:
            # Whoosh's fragmenter takes the next word into an empty passage, so the
            # context of the next match starts after it.
            after += 1


def _words(text: str) -> tuple[list[str], list[int]]:
    """The words of a text as the index holds them, and the running sums of the lengths
    of the text's parts (between words, word, between, ...): where each word starts and
    ends, from one split and no object per word."""
    # Lower case keeps an ASCII text's length, so its parts are the text's parts.
    parts = SPLIT.split(text.lower() if text.isascii() else text)
    words = parts[1::2] if text.isascii() else [fold(w) for w in parts[1::2]]
    return words, list(accumulate(map(len, parts)))


def _places(words: list[str], word: str) -> Iterator[int]:
    """Every place of `word` in `words` (list.index runs in C: most words match none)."""
    n = -1
    while True:
        try:
            n = words.index(word, n + 1)
        except ValueError:
            return
        yield n


def _context_start(offsets: list[int], after: int, n: int) -> int | None:
    """Where the context before word n starts: the first of the words since `after`
    that start within SURROUND characters of the end of the word before n."""
    if n - 1 < after:
        return None
    edge = offsets[2 * n - 1] - SURROUND
    k = n - 1
    while k >= after and offsets[2 * k] >= edge:
        k -= 1
    return offsets[2 * k + 2] if k + 1 <= n - 1 else None


def _scored(text: str, marks: list, first: int | None, end: int) -> tuple:
    if first is None:
        first = marks[0][0] if marks else 0
    score = len(marks) * (len({word for _, _, word in marks}) * 100 or 1)
    return (score, max(0, first), min(len(text), end), marks)


def _format(text: str, start: int, end: int, marks: list, numbers: dict[str, int]) -> str:
    out = []
    index = start
    for mark_start, mark_end, word in marks:
        if mark_start < index:
            continue
        if mark_start > index:
            out.append(escape(text[index:mark_start], quote=False))
        number = numbers.get(word, 0)
        shown = escape(text[mark_start:mark_end], quote=False)
        out.append(f'<mark class="match term{number}">{shown}</mark>')
        index = mark_end
    out.append(escape(text[index:end], quote=False))
    return "".join(out)
