"""The prompt pre-guard's word lists and how a prompt is matched against them.

    check = BlocklistCheck()                      # the lists in guardrail/data/, better-profanity's when installed
    check.check("A robot arm picks up an Xbox controller").fired     # False
    r = check.check("a video of a m u r d 3 r")
    r.reason      # "murder (violence) as 'm u r d 3 r' (spacing)"

Lists (``guardrail/data/``, one entry a line under a ``[category]`` header, ``#`` comments):

- ``blocklist_exact.txt``: words and phrases matched as whole words after normalisation (``text``) and
  lemmatisation (``lemmas``), so "murdered", "MURD3R", "murrrder" and "m-u-r-d-e-r" match "murder";
  entries also match one-edit misspellings of themselves (5+ letters; two edits for 8+ letters, with
  WordNet) and of their inflections (6+ letters: "sabbed" is "stabbed"), first letter kept, in tokens
  that are no known word ("murdr", "masacre"), never in real words ("piston" is not "pistol");
- ``blocklist_partial.txt``: stems matched anywhere inside a word or a joined split word ("xxpornxx");
- ``whitelist.txt``: phrases inside which a blocked word is no hit ("killer whale", "bath bomb",
  "colour bleeding" needs none: "bleed" is not blocked), and words that are never a hit ("therapist",
  "Scunthorpe", "piston");
- better-profanity's bundled word list (``pip install better-profanity``), as whole words, less
  ``profanity_allow.txt`` (words whose main sense is innocent: screw, knob, hump, tit), without
  suffix rules (they would find its short words in "lens" or "spices"); with WordNet, its words of 6+
  letters also match misspellings (without a vocabulary those hit real words: "controller", "Sussex").

Spacing is undone by joining neighbouring tokens: a run of single letters ("p o r n", "p.o.r.n") and
two or three neighbours that are no known words ("mur der", "exp lo sive"); "be heading" is not joined
because "be" and "heading" are words.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cosmos_sim.errors import ConfigError
from cosmos_sim.guardrail.lemmas import FUNCTION_WORDS, Lemmatizer
from cosmos_sim.guardrail.runner import CheckResult
from cosmos_sim.guardrail.text import Token, normalise, tokens, word_forms

DATA = Path(__file__).resolve().parent / "data"
EXACT = DATA / "blocklist_exact.txt"
PARTIAL = DATA / "blocklist_partial.txt"
WHITELIST = DATA / "whitelist.txt"
PROFANITY_ALLOW = DATA / "profanity_allow.txt"
FUZZY_MIN_LEN = 5  # shorter entries match no misspellings: one edit from "gore" is "core", "more", "gone"
PROFANITY_FUZZY_MIN_LEN = 6  # better-profanity words this long also match misspellings (with WordNet only)
_MAX_RUN = 24  # longest run of single letters joined
_HOW_RANK = {
    h: i
    for i, h in enumerate(
        ("word", "inflection", "phrase", "leetspeak/repeats", "spacing", "substring", "misspelling")
    )
}


def read_list(path: str | Path) -> list[tuple[str, str]]:
    """``(category, entry)`` pairs of a list file: ``[category]`` headers, one entry a line, ``#`` comments.

    Entries are normalised as prompts are (``text.normalise``, words joined by single spaces).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"word list {path} does not exist; pass an existing file of one entry a line")
    out, category = [], "user"
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip()
            continue
        words = [t.text for t in tokens(line)]
        if words:
            out.append((category, " ".join(words)))
    return out


def profanity_words() -> list[str]:
    """better-profanity's bundled word list (normalised), or [] when it is not installed."""
    spec = importlib.util.find_spec("better_profanity")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / "profanity_wordlist.txt"
    if not path.is_file():
        return []
    words = (" ".join(t.text for t in tokens(line)) for line in path.read_text(encoding="utf-8").splitlines())
    return sorted({w for w in words if w})


@functools.lru_cache(maxsize=1 << 16)
def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


@dataclass(frozen=True)
class Match:
    """One blocked entry found in a prompt."""

    entry: str
    """The list entry ("murder", "mass shooting")."""
    category: str
    """Its category (violence, weapons, sexual, hate, drugs, profanity, or a user list's header)."""
    how: str
    """word, inflection, leetspeak/repeats, spacing, misspelling or substring."""
    typed: str
    """The prompt's text that matched (normalised)."""
    start: int
    """Offset in the normalised prompt."""
    end: int
    """Offset one past the match."""

    def describe(self) -> str:
        return f"{self.entry} ({self.category}) as {self.typed!r} ({self.how})"


@dataclass(frozen=True)
class _Unit:
    """A token, or neighbouring tokens joined, with what it may stand for."""

    first: int
    last: int  # inclusive token indices
    text: str
    forms: frozenset[str]
    kind: str  # "token"; "letters" (a run of single letters); "unknown" (neighbours no dictionary knows);
    # "some-unknown" (neighbours of which one is unknown: matched as whole words only)

    @property
    def joined(self) -> bool:
        return self.kind != "token"


class Blocklist:
    """Exact, partial and whitelist entries, and the matcher of a prompt against them."""

    def __init__(
        self,
        lemmatizer: Lemmatizer | None = None,
        exact: Iterable[str | Path] = (EXACT,),
        partial: Iterable[str | Path] = (PARTIAL,),
        whitelist: Iterable[str | Path] = (WHITELIST,),
        profanity: bool = True,
    ):
        self.lemmatizer = lemmatizer or Lemmatizer()
        self.words: dict[str, str] = {}  # single-word exact entry -> category
        self.profanity: set[str] = set()  # better-profanity's single words: matched without suffix rules
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)  # first word -> ...
        self.fuzzy: dict[str, str] = {}  # entries that also match misspellings
        for path in exact:
            for category, entry in read_list(path):
                self._add(entry, category, fuzzy=True)
        self.allow_words: set[str] = set()
        self.allow_phrases: list[tuple[str, ...]] = []
        for path in whitelist:
            for section, entry in read_list(path):
                words = tuple(entry.split())
                if section == "words" or len(words) == 1:
                    self.allow_words.update(words)
                else:
                    self.allow_phrases.append(words)
        self.partial = [(stem.replace(" ", ""), cat) for path in partial for cat, stem in read_list(path)]
        self.profanity_count = 0
        if profanity:
            allow = {e for _, e in read_list(PROFANITY_ALLOW)}
            vocabulary = self.lemmatizer.source != "rules"  # without one, its misspellings hit real words
            for entry in profanity_words():
                if entry not in allow and entry not in self.words and entry not in self.allow_words:
                    if " " in entry:
                        self._add(entry, "profanity", fuzzy=False)
                    else:
                        self.profanity.add(entry)
                        if vocabulary and len(entry) >= PROFANITY_FUZZY_MIN_LEN:
                            self.fuzzy.setdefault(entry, "profanity")
                    self.profanity_count += 1

    def _add(self, entry: str, category: str, fuzzy: bool) -> None:
        words = tuple(entry.split())
        if len(words) == 1:
            self.words.setdefault(words[0], category)
            if fuzzy:
                self.fuzzy[words[0]] = category
        else:
            self.phrases[words[0]].append((words, category))

    # ---- what a token may stand for -------------------------------------------------------------------
    def _candidates(self, forms: Iterable[str]) -> set[str]:
        return {lemma for f in forms for lemma in self.lemmatizer.lemmas(f)}

    def _wordnet_lemmas(self, forms: Iterable[str]) -> set[str]:
        if self.lemmatizer.source == "rules":
            return set()
        return {lemma for f in forms for lemma in self.lemmatizer.lemmas(f)}

    def _allowed(self, unit: _Unit) -> bool:
        return unit.text in self.allow_words or bool(unit.forms & self.allow_words)

    def _units(self, toks: list[Token]) -> list[_Unit]:
        units = [_Unit(i, i, t.text, t.forms, "token") for i, t in enumerate(toks)]
        # runs of single characters: "p o r n", "k 1 l l" (every sub-run of 3+, so "a p o r n" finds "porn")
        i = 0
        while i < len(toks):
            j = i
            while j < len(toks) and len(toks[j].text) == 1 and j - i < _MAX_RUN:
                j += 1
            for a in range(i, j):
                for b in range(a + 3, j + 1):
                    text = "".join(t.text for t in toks[a:b])
                    units.append(_Unit(a, b - 1, text, word_forms(text), "letters"))
            i = max(j, i + 1)
        # two or three neighbours that are no known words ("exp lo sive"); with a vocabulary, also pieces of
        # which one is a word ("mur der": WordNet lists "der"), but not two words ("be heading")
        known = [self._word_like(t) for t in toks]
        vocabulary = self.lemmatizer.source != "rules"
        for a in range(len(toks)):
            for n in (2, 3):
                pieces = toks[a : a + n]
                if len(pieces) < n or any(t.text in self.allow_words for t in pieces):
                    continue
                n_known = sum(known[a : a + n])
                kind = "unknown" if n_known == 0 else "some-unknown" if n_known < n and vocabulary else None
                if kind:
                    text = "".join(t.text for t in pieces)
                    units.append(_Unit(a, a + n - 1, text, word_forms(text), kind))
        return units

    def _word_like(self, t: Token) -> bool:
        """A number, a function word, or a known word of 3+ letters (WordNet lists "po", "un" and "ex"
        as abbreviations, but in a prompt a two-letter piece is more likely half a split word)."""
        return t.text.isdigit() or any(
            f in FUNCTION_WORDS or (len(f) > 2 and self.lemmatizer.known(f)) for f in t.forms
        )

    def _whitelisted(self, cands: list[set[str]]) -> set[int]:
        """Indices of tokens inside a whitelisted phrase."""
        covered: set[int] = set()
        for phrase in self.allow_phrases:
            for i in range(len(cands) - len(phrase) + 1):
                if all(w in cands[i + k] for k, w in enumerate(phrase)):
                    covered.update(range(i, i + len(phrase)))
        return covered

    # ---- matching -----------------------------------------------------------------------------------
    def matches(self, text: str) -> list[Match]:
        """Every blocked entry in ``text``, in order of position."""
        norm = normalise(text)
        toks = tokens(text)
        cands = [self._candidates(t.forms) for t in toks]
        covered = self._whitelisted(cands)
        found: list[Match] = []

        def add(entry: str, category: str, how: str, first: int, last: int) -> None:
            start, end = toks[first].start, toks[last].end
            found.append(Match(entry, category, how, norm[start:end], start, end))

        vocabulary = self.lemmatizer.source != "rules"
        for u in self._units(toks):
            if set(range(u.first, u.last + 1)) <= covered or self._allowed(u):
                continue
            lemmas = cands[u.first] if not u.joined else self._candidates(u.forms)
            hit = sorted(lemmas & self.words.keys())
            if hit:
                add(hit[0], self.words[hit[0]], self._how(u, hit[0]), u.first, u.last)
                continue
            # the profanity list is full of short words: suffix rules would find them in "lens" or "spices"
            rude = sorted((u.forms | self._wordnet_lemmas(u.forms)) & self.profanity)
            if rude:
                add(rude[0], "profanity", self._how(u, rude[0]), u.first, u.last)
                continue
            # misspellings and substrings of joined words only where the pieces are surely no words
            if u.kind == "some-unknown" or (u.kind == "unknown" and not vocabulary):
                continue
            fuzzy = self._misspelling(u, lemmas)
            if fuzzy:
                add(fuzzy, self.fuzzy[fuzzy], "misspelling", u.first, u.last)
                continue
            for stem, category in self.partial:
                if any(stem in f for f in u.forms):
                    add(stem, category, "substring" if not u.joined else "spacing", u.first, u.last)
                    break
        for i, first_cands in enumerate(cands):
            for w in first_cands & self.phrases.keys():
                for words, category in self.phrases[w]:
                    last = i + len(words) - 1
                    if last < len(toks) and all(words[k] in cands[i + k] for k in range(1, len(words))):
                        if not set(range(i, last + 1)) <= covered:
                            add(" ".join(words), category, "phrase", i, last)
        # one match per place: the most direct explanation, then the longest text ("m-a-s-s-a-c-r-e", not "m-a-s-s-a")
        kept: list[Match] = []
        for m in sorted(found, key=lambda m: (_HOW_RANK[m.how], m.start - m.end, m.start)):
            if not any(k.start < m.end and m.start < k.end for k in kept):
                kept.append(m)
        return sorted(kept, key=lambda m: (m.start, m.entry))

    def _how(self, u: _Unit, entry: str) -> str:
        if u.joined:
            return "spacing"
        if u.text == entry:
            return "word"
        if entry in self.lemmatizer.lemmas(u.text):
            return "inflection"
        return "leetspeak/repeats"

    def _misspelling(self, u: _Unit, lemmas: set[str]) -> str | None:
        """The fuzzy entry a form no dictionary knows misspells: one edit from the entry or from one of its
        inflections (two edits from entries of 8+ letters, with WordNet), the first letter kept (typos
        rarely hit it; without that rule "gripper" would be "stripper")."""
        if any(self.lemmatizer.known(f) for f in u.forms):
            return None
        wide = self.lemmatizer.source != "rules"  # without a vocabulary, two edits reach too many words
        for f in sorted(lemmas | u.forms):
            if len(f) < FUZZY_MIN_LEN or f in self.allow_words:
                continue
            for entry, inflected in self._fuzzy_forms.get(f[0], ()):
                limit = 2 if wide and len(entry) >= 8 and inflected == entry else 1
                if abs(len(inflected) - len(f)) <= limit and edit_distance(f, inflected, limit) <= limit:
                    return entry
        return None

    @functools.cached_property
    def _fuzzy_forms(self) -> dict[str, list[tuple[str, str]]]:
        """First letter -> (entry, the entry or an inflection of 6+ letters) for the fuzzy entries."""
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for entry in sorted(self.fuzzy):
            for form in sorted(inflections(entry)):
                if len(form) >= (FUZZY_MIN_LEN if form == entry else 6):
                    out[entry[0]].append((entry, form))
        return dict(out)


def inflections(word: str) -> set[str]:
    """Regular inflections of a base form: plural/3rd person, past, -ing (final e dropped, final consonant
    doubled after a short vowel), e.g. "stab" -> stabs, stabbed, stabbing."""
    out = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if word.endswith("e"):
        out |= {word + "d", word[:-1] + "ing"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        out |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        out |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return out


class BlocklistCheck:
    """The blocklist as a ``TextCheck``: fires (and blocks) when any entry matches."""

    name = "blocklist"

    def __init__(self, blocklist: Blocklist | None = None):
        self.blocklist = blocklist or Blocklist()

    def check(self, text: str) -> CheckResult:
        found = self.blocklist.matches(text)
        if not found:
            return CheckResult(self.name, False)
        shown = "; ".join(m.describe() for m in found[:3]) + (
            f"; +{len(found) - 3} more" if len(found) > 3 else ""
        )
        return CheckResult(
            self.name,
            True,
            blocks=True,
            reason=f"blocked: {shown}",
            details={"matches": [m.__dict__ for m in found]},
        )


__all__ = [
    "Blocklist",
    "BlocklistCheck",
    "Match",
    "edit_distance",
    "inflections",
    "profanity_words",
    "read_list",
]
