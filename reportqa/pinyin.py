"""A pinyin view of character bigrams, for homophone typos (法率 -> fa lv -> 法律).

Readings come from pypinyin's character table, without tones; a character with several
readings gives several keys (at most four per bigram).
"""

from __future__ import annotations

import unicodedata
from functools import cached_property, lru_cache

DIAERESIS = "\u0308"  # the ü of lǜ, nǚ (NFD splits it from its u)


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict  # type: ignore[no-any-return]


@lru_cache(maxsize=65536)
def readings(ch: str) -> tuple[str, ...]:
    """Toneless readings of one character, most common first (at most two)."""
    raw = _table().get(ord(ch))
    if not raw:
        return (ch,)
    out: list[str] = []
    for r in raw.split(","):
        # tone marks off, the diaeresis kept: 律 lǜ reads lv, not lu (路)
        bare = (
            c
            for c in unicodedata.normalize("NFD", r)
            if c == DIAERESIS or not unicodedata.combining(c)
        )
        plain = unicodedata.normalize("NFC", "".join(bare)).replace("ü", "v")
        if plain not in out:
            out.append(plain)
    return tuple(out[:2])


def bigram_keys(pair: str) -> list[str]:
    """The pinyin keys of a two-character string."""
    if len(pair) != 2:
        return []
    return [f"{a} {b}" for a in readings(pair[0]) for b in readings(pair[1])]


class Homophones:
    """The indexed bigrams read like a two-character string, for one index's vocabulary
    (term -> id; bigram terms are BIGRAM + two characters). The pinyin map is built on first
    use; answers are remembered (at most `limit`, then forgotten all at once)."""

    def __init__(self, vocab: dict[str, int], bigram_mark: str, limit: int = 200_000) -> None:
        self._vocab = vocab
        self._mark = bigram_mark
        self._limit = limit
        self._memo: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {}

    @cached_property
    def _by_key(self) -> dict[str, list[int]]:
        """Pinyin key -> the term ids of the indexed bigrams with that reading."""
        out: dict[str, list[int]] = {}
        # by the term's text, not its id: an index updated in place numbers its terms
        # otherwise than a full build, and must read a typo the same way
        for term, tid in sorted(self._vocab.items()):
            if term.startswith(self._mark) and len(term) == 3:
                for key in bigram_keys(term[1:]):
                    out.setdefault(key, []).append(tid)
        return out

    @cached_property
    def _terms(self) -> dict[int, str]:
        """Index terms by id (ids need not be dense: an updated index leaves gaps)."""
        return {tid: term for term, tid in self._vocab.items()}

    def term_ids(self, pair: str) -> tuple[int, ...]:
        """Term ids of the indexed bigrams read like `pair`, in reading order."""
        return self._lookup(pair)[0]

    def strings(self, pair: str) -> tuple[str, ...]:
        """The indexed two-character strings other than `pair` read like it (法率 -> 法律 ...)."""
        return self._lookup(pair)[1]

    def _lookup(self, pair: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        found = self._memo.get(pair)
        if found is None:
            ids = (t for key in bigram_keys(pair) for t in self._by_key.get(key, ()))
            tids = tuple(dict.fromkeys(ids))
            texts = tuple(s for s in (self._terms[t][1:] for t in tids) if s != pair)
            found = (tids, texts)
            if len(self._memo) >= self._limit:
                self._memo.clear()
            self._memo[pair] = found
        return found
