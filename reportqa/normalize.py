"""One normalisation for documents and questions alike.

NFKC folds full-width letters, digits and punctuation to their ordinary forms; OpenCC turns
traditional characters into simplified ones so that a question in either script finds text in
either script; letters are lower-cased; white space is dropped except between two Latin words,
so "6 次" and "6次" become the same token. Display text is never normalised: only the search
view of it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"\s+")
# Keep one space only where both neighbours are Latin letters (e.g. "GOVERNMENT INFORMATION").
_LATIN_GAP = re.compile(r"(?<=[a-z])\s+(?=[a-z])")
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]"
)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_input(text: str) -> str:
    """Text from outside (a chat message, a stdin line) made safe to process and print: lone
    surrogates (undecodable bytes) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


@lru_cache(maxsize=1)
def _converter() -> object:
    import opencc  # imported lazily: the C library loads its dictionaries on first use

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC t2s); other text passes through."""
    if not text:
        return text
    return _converter().convert(text)  # type: ignore[attr-defined, no-any-return]


def normalize(text: str) -> str:
    """The search view of a text: NFKC, simplified script, lower case, no insignificant spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = to_simplified(text).lower()
    text = _LATIN_GAP.sub("\x00", text)
    return _SPACE.sub("", text).replace("\x00", " ")


def squeeze(text: str) -> str:
    """Normalise and drop every space: the form used to compare evidence with passages."""
    return normalize(text).replace(" ", "")
