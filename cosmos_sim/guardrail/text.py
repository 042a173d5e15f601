"""Prompt normalisation for the pre-guard: what the blocklist compares is not what the user typed.

    tokens("K1LLLL the  p.o.r.n  st@r")
    -> Token("k1llll", forms={"killll", "kill", "kiill", ...}), Token("the"), ...,
       Token("p"), Token("o"), ..., Token("st@r", forms={"star", ...})

Each step undoes one way of hiding a word:

- case and accents (NFKD, combining marks dropped), zero-width characters, and Cyrillic/Greek letters
  that look like Latin ones ("рorn" with a Cyrillic "р");
- leetspeak inside a word: 0->o, 1->i or l, 3->e, 4->a, 5->s, 7->t, 8->b, 9->g, @->a, $->s, !->i, |->l, +->t
  (a token of digits only, "2024", stays a number);
- repeated letters: a run of three or more becomes one, two or three ("kiiiill" -> "kill", "shooooot" ->
  "shoot", "kkkkk" -> "kkk").

Spacing ("p o r n", "m-u-r-d-e-r", "mur der") is undone later by ``blocklist.spans``, which joins
neighbouring tokens; lemmatisation (plurals, inflections) is ``lemmas.Lemmatizer``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

#: leetspeak characters and the letters they stand for
LEET: dict[str, str] = {
    "0": "o",
    "1": "il",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
    "|": "l",
    "+": "t",
}
#: Cyrillic and Greek letters that look like Latin ones (after lower-casing)
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "α": "a",
        "β": "b",
        "ε": "e",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
    }
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_TOKEN = re.compile(r"[a-z0-9@$!|+]+")
_MAX_FORMS = 16  # variants kept per token (leetspeak x repeated letters)


@dataclass(frozen=True)
class Token:
    """One word of a normalised prompt."""

    text: str
    """The word as typed, after case/accent/look-alike folding (``"k1llll"``)."""
    start: int
    """Offset of its first character in ``normalise(prompt)``."""
    end: int
    """Offset one past its last character."""
    forms: frozenset[str]
    """Letter-only spellings it may stand for (leetspeak decoded, repeated letters collapsed)."""


def normalise(text: str) -> str:
    """Lower case, no accents, no zero-width characters, look-alike letters as Latin ones.

    Offsets in the result match the input's for ordinary text (decomposed characters lose their marks).
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lower().translate(_CONFUSABLES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _leet_forms(word: str) -> list[str]:
    """``word`` with leetspeak decoded; a word of digits only is left as it is."""
    core = word.rstrip("!") or word  # "kill!" is "kill", not "killi"; "$ex" is "sex"
    if not any(c in LEET for c in core) or not any(c.isalpha() for c in core):
        return [core]
    choices = [LEET.get(c, c) for c in core]
    return ["".join(p) for p in itertools.islice(itertools.product(*choices), _MAX_FORMS)]


def _squeeze_forms(word: str) -> list[str]:
    """Runs of 3+ equal letters as one and as two letters ("kiiill" -> "kil", "kiil"; then kept ones)."""
    runs = [(c, len(list(g))) for c, g in itertools.groupby(word)]
    if all(n < 3 for _, n in runs):
        return [word]
    options = [[c * n] if n < 3 else [c, c * 2, c * 3] for c, n in runs]
    return [word, *("".join(p) for p in itertools.islice(itertools.product(*options), _MAX_FORMS))]


def word_forms(word: str) -> frozenset[str]:
    """Letter spellings a typed word may stand for (itself included when it is all letters)."""
    forms = {s for w in _leet_forms(word) for s in _squeeze_forms(w)}
    return frozenset(itertools.islice(sorted(forms), _MAX_FORMS))


def tokens(text: str) -> list[Token]:
    """The words of ``normalise(text)`` with their spellings; punctuation and spaces separate words."""
    norm = normalise(text)
    return [Token(m.group(), m.start(), m.end(), word_forms(m.group())) for m in _TOKEN.finditer(norm)]


__all__ = ["LEET", "Token", "normalise", "tokens", "word_forms"]
