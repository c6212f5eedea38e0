"""Text handling for lexical retrieval: Norwegian stemming, folding of æøå, chunking.

Visitors write ``rorlegger`` for ``rørlegger`` and ``vaere`` for ``være``, in bokmål or nynorsk.
Documents and queries go through the same steps (stem, then fold to ASCII), so those match.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from langchain_text_splitters import RecursiveCharacterTextSplitter

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "é": "e", "ä": "ae", "ö": "o", "ü": "u"})

# Function words in bokmål and nynorsk that carry no topic. Kept short on purpose: BM25's
# inverse document frequency handles the rest.
STOPWORDS = frozenset(
    """
    og i jeg eg det at en ein et eit den til er som på pa de med han av ikke ikkje ikkj der så sa
    var meg seg men ett har om vi me min mitt ha hadde hun ho nå na over da ved fra frå du ut
    sin dem oss opp man kan hans hvor kor eller hva kva skal selv sjøl her alle vil bli ble blei
    blitt kunne inn når nar være vere vaere kom noen nokon noe noko ville dere dykk som deres
    kun ja etter ned skulle denne for deg si sine sitt mot å a meget hvorfor kvifor dette disse
    desse uten utan hvordan korleis ingen inga din ditt blir samme same hvilken kva slags
    hvilke kven hvem hei hallo takk litt mye mykje veldig bare berre også ogso òg og
    tror trur lurer lurar få fa gjøre gjere gjore
    """.split()  # noqa: SIM905  (a word list reads better as prose)
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("norwegian")


def fold(text: str) -> str:
    """Lower case, compatibility-normalised, with æøå written the way an ASCII keyboard does."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    return text.replace("aa", "a")


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def tokens(text: str) -> list[str]:
    """Stemmed, folded content words: the terms BM25 counts."""
    content = [w for w in words(text) if w not in STOPWORDS and fold(w) not in STOPWORDS]
    return [fold(stem) for stem in _stemmer().stemWords(content)]


@lru_cache(maxsize=1)
def _splitter() -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=600, chunk_overlap=80, separators=["\n\n", "\n", ". ", " ", ""]
    )


def chunks(text: str) -> list[str]:
    """Split a body into pieces of at most about 600 characters, on sentence boundaries."""
    return [piece.strip() for piece in _splitter().split_text(text) if piece.strip()]


def grams(text: str) -> list[str]:
    """Character 4-grams of each folded content word, with word boundaries marked."""
    out: list[str] = []
    for word in words(text):
        if word in STOPWORDS:
            continue
        marked = f"#{fold(word)}#"
        out += [marked[i : i + 4] for i in range(max(1, len(marked) - 3))]
    return out
