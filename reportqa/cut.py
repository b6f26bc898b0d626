"""jieba's accurate mode with its HMM (`jieba.Tokenizer.cut(text, HMM=True)`), word for word,
in fewer Python steps.

jieba finds, for each block of Chinese characters, every dictionary word starting at each
character (`get_DAG`), then the most probable path through them from the end (`calc`, a `max`
over a generator of tuples), then hands runs of single characters that are no word to its HMM
(`finalseg`). Cutting reports spends most of its time there. This module does the same in one
backward pass: the words starting at a character are scanned and scored as they are found, the
best kept with jieba's tie-break (the longer word on equal score) and its arithmetic in the same
order, so every score and every word is the same. The HMM is jieba's own, remembered per run
(its result depends on the run alone). `tests/test_cut.py` holds the output to jieba's on real
reports and on random text.

Only what the index and questions use is here: the dictionary (`FREQ`, `total`) is the
caller's jieba tokenizer's, read as it is at the call, user words included.
"""

from __future__ import annotations

from functools import lru_cache
from math import log

from jieba import finalseg
from jieba import re_han_default as _HAN  # jieba's own block patterns
from jieba import re_skip_default as _SKIP


def cut(text: str, freq: dict[str, int], total: int) -> list[str]:
    """The tokens `jieba.Tokenizer.cut(text, HMM=True)` yields, for a tokenizer whose frequency
    table is `freq` and whose total is `total`."""
    out: list[str] = []
    logtotal = log(total)
    for blk in _HAN.split(text):
        if not blk:
            continue
        if _HAN.match(blk):
            _cut_block(blk, freq, logtotal, out)
        else:
            for x in _SKIP.split(blk):
                if _SKIP.match(x):
                    out.append(x)
                else:
                    out.extend(x)
    return out


def _cut_block(blk: str, freq: dict[str, int], logtotal: float, out: list[str]) -> None:
    """jieba's `__cut_DAG` on one block: the best path, then its single characters."""
    n = len(blk)
    get = freq.get
    score = [0.0] * (n + 1)
    ends = list(range(1, n + 1))  # where the best word from each character ends (exclusive)
    for k in range(n - 1, -1, -1):
        best = 0.0 - logtotal + score[k + 1]  # the character alone, jieba's `or 1`: log(1)
        found = False
        i = k
        f = get(blk[k])
        while f is not None:  # the prefixes of dictionary words starting at k
            if f:
                s = log(f) - logtotal + score[i + 1]
                if not found or s >= best:  # on equal scores jieba's max takes the longer
                    best, end, found = s, i + 1, True
            i += 1
            if i >= n:
                break
            f = get(blk[k : i + 1])
        score[k] = best
        if found:
            ends[k] = end
    x = 0
    buf = ""
    while x < n:
        y = ends[x]
        if y - x == 1:
            buf += blk[x]
        else:
            if buf:
                _single(buf, freq, out)
                buf = ""
            out.append(blk[x:y])
        x = y
    if buf:
        _single(buf, freq, out)


def _single(buf: str, freq: dict[str, int], out: list[str]) -> None:
    """A run of single characters on the best path: alone, as characters when the run is a
    word, or as the HMM cuts it."""
    if len(buf) == 1:
        out.append(buf)
    elif not freq.get(buf):
        out.extend(_hmm(buf))
    else:
        out.extend(buf)


@lru_cache(maxsize=1 << 16)
def _hmm(run: str) -> tuple[str, ...]:
    return tuple(finalseg.cut(run))
