"""A pinyin view of character bigrams, for homophone typos (法率 -> fa lv -> 法律).

Readings come from pypinyin's character table, without tones; a character with several
readings gives several keys (at most four per bigram).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


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
        plain = "".join(
            c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c)
        ).replace("ü", "v")
        if plain not in out:
            out.append(plain)
    return tuple(out[:2])


def bigram_keys(pair: str) -> list[str]:
    """The pinyin keys of a two-character string."""
    if len(pair) != 2:
        return []
    return [f"{a} {b}" for a in readings(pair[0]) for b in readings(pair[1])]
