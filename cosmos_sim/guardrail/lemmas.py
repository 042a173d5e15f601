"""Lemmas and a vocabulary for the pre-guard: NLTK's WordNet lemmatizer where WordNet data is installed,
suffix rules otherwise.

    lem = Lemmatizer()          # "auto": NLTK's own data, else Debian's wordnet-base, else rules
    lem.lemmas("knives")        # {"knives", "knife"}
    lem.known("piston")         # True with WordNet: a real word, so never a misspelling of "pistol"
    lem.source                  # "wordnet:/usr/share/wordnet" or "rules"

WordNet comes from NLTK's data directory (``nltk.download("wordnet")`` done beforehand, never here) or
from Debian's ``wordnet-base`` package (``apt-get install wordnet-base``: the WordNet 3.0 database in
``/usr/share/wordnet``, which lacks only the ``lexnames`` file NLTK reads first: it is supplied from the
fixed list below). Nothing is downloaded. Without WordNet the rules strip English suffixes (-s, -es,
-ies, -ves, -ing, -ed, -er, with a final e restored and a doubled consonant undone) and the vocabulary
is a short list of function words, so fewer tokens count as known words (see ``blocklist``).
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path

from cosmos_sim.errors import ConfigError

DEBIAN_WORDNET = Path("/usr/share/wordnet")

# WordNet 3.0's lexicographer files (lexnames(5WN)), in file-number order; Debian ships no lexnames file.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_SYNTACTIC_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

#: function words: known words in every mode (WordNet leaves most of them out)
FUNCTION_WORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being am do does did "
    "have has had it its this that these those he she they we you i me him her them us my your his our their "
    "not no so up out off over under into onto than then there here what which who whom whose when where why "
    "how all any each few more most other some such own same too very can will just should now".split()
)


def _wordnet_reader(root: Path):
    """NLTK's WordNetCorpusReader over a WordNet 3.0 database directory without a lexnames file."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    lexnames = "".join(
        f"{i:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES)
    )

    class _Reader(WordNetCorpusReader):
        def open(self, file):
            if file == "lexnames" and not (root / "lexnames").is_file():
                return io.StringIO(lexnames)
            return super().open(file)

        def map_wn(self, version="wordnet"):
            return None  # the mapping to other WordNet versions (multilingual data) is not needed

    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))  # NLTK reads corpora only under its registered data paths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return _Reader(str(root), None)


@functools.cache
def load_wordnet(where: str = "auto"):
    """(NLTK WordNet reader, where it came from), or (None, "rules") when ``where="auto"`` finds none.

    ``where``: ``"auto"`` (NLTK's data, then Debian's ``/usr/share/wordnet``), ``"off"``, or a directory
    holding the WordNet 3.0 database (``data.noun``, ``index.noun``, ...). Loading takes a few seconds,
    once per process.
    """
    if where == "off":
        return None, "rules"
    try:
        import nltk
    except ImportError:
        if where != "auto":
            raise ConfigError(
                f"wordnet = {where!r} needs NLTK, which is not installed; pip install nltk, or use "
                "wordnet = 'auto' (suffix rules without it)"
            ) from None
        return None, "rules"
    if where == "auto":
        try:
            nltk.data.find("corpora/wordnet")
            from nltk.corpus import wordnet

            wordnet.ensure_loaded()
            return wordnet, "wordnet:nltk_data"
        except LookupError:
            pass
        root = DEBIAN_WORDNET
        if not (root / "index.noun").is_file():
            return None, "rules"
    else:
        root = Path(where)
        if not (root / "index.noun").is_file():
            raise ConfigError(
                f"wordnet = {where!r} is not a WordNet 3.0 database directory (no index.noun in it); "
                f"pass the directory of Debian's wordnet-base ({DEBIAN_WORDNET}), 'auto' or 'off'"
            )
    return _wordnet_reader(root), f"wordnet:{root}"


@functools.lru_cache(maxsize=65536)
def rule_lemmas(word: str) -> frozenset[str]:
    """Candidate base forms by suffix rules, ``word`` included ("stabbings" -> "stabbing", "stab", ...)."""
    out = {word}
    frontier = [word]
    for _ in range(2):  # "shootings" -> "shooting" -> "shoot"
        nxt = []
        for w in frontier:
            cands = set()
            if len(w) > 4 and w.endswith("ies"):
                cands.add(w[:-3] + "y")
            if len(w) > 4 and w.endswith("ves"):
                cands |= {w[:-3] + "f", w[:-3] + "fe"}
            if len(w) > 3 and w.endswith("es"):
                cands.add(w[:-2])
            if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
                cands.add(w[:-1])
            for suffix in ("ing", "ed", "er", "d"):
                stem = w[: -len(suffix)]
                if w.endswith(suffix) and len(stem) >= 3:
                    cands |= {stem, stem + "e"}
                    if stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                        cands.add(stem[:-1])  # "stabbed" -> "stab"
            nxt += sorted(cands - out)
            out |= cands
        frontier = nxt
    return frozenset(out)


class Lemmatizer:
    """Lemma candidates and known words, from WordNet (via NLTK) when present, from rules otherwise."""

    def __init__(self, wordnet: str = "auto"):
        self._wn, self.source = load_wordnet(wordnet)
        self._vocabulary = (
            frozenset(n for n in self._wn.all_lemma_names() if n.isalpha()) if self._wn is not None else None
        )

    @functools.lru_cache(maxsize=65536)  # noqa: B019 (one Lemmatizer per guard, alive as long as it)
    def _wordnet_lemmas(self, word: str) -> frozenset[str]:
        if self._wn is None:
            return frozenset()
        return frozenset(lemma for pos in "nvar" for lemma in self._wn._morphy(word, pos))

    def lemmas(self, word: str) -> frozenset[str]:
        """``word`` and its base forms: WordNet's lemmas for a word WordNet knows, suffix rules otherwise."""
        found = self._wordnet_lemmas(word)
        return found | {word} if found else rule_lemmas(word)

    def known(self, word: str) -> bool:
        """A real word: a function word, or (with WordNet) a word or inflection WordNet lists."""
        if word in FUNCTION_WORDS:
            return True
        return self._vocabulary is not None and (word in self._vocabulary or bool(self._wordnet_lemmas(word)))

    def __repr__(self) -> str:
        return f"Lemmatizer(source={self.source!r})"


def wordnet_available() -> bool:
    """Whether ``Lemmatizer()`` (``"auto"``) finds WordNet data, without loading it."""
    try:
        import nltk
    except ImportError:
        return False
    try:
        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        return os.path.isfile(DEBIAN_WORDNET / "index.noun")


__all__ = [
    "DEBIAN_WORDNET",
    "FUNCTION_WORDS",
    "Lemmatizer",
    "load_wordnet",
    "rule_lemmas",
    "wordnet_available",
]
