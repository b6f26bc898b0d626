"""Inverted index scored with BM25 (Lucene's idf) from raw term counts, as Lucene does.

Postings are stored column-wise (as in a CSC matrix) in blocks: for term t, a block's
`docs[ptr[t]:ptr[t+1]]` are the passages that hold it and `tf[...]` how often. The statistics
BM25 needs from the whole collection (each term's document frequency, the number of passages
and their average length) are kept beside the blocks and applied when a question is scored, so
an index can be made of several blocks (reportqa.merge: a large base and a small tail of recent
changes, with the passages of removed reports dropped) and still score exactly as one block
over the same passages. Answering a question is a few gathers and one `np.bincount`.

Passages have internal numbers (their place in the blocks) and positions (their place in the
knowledge base, which the engine uses); `doc_pos` maps one to the other when they differ, and
sends the passages of removed reports to a position past the end that is dropped.
The tokenizer is passed in (`Index.build`), so tests can index with a trivial one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from reportqa.tokenize import BIGRAM

K1 = 1.2
B = 0.75
VIEW_WEIGHTS = {"word": 1.0, "bigram": 0.6}  # a bigram match counts a little over half a word
FORMAT_VERSION = "4"
_ARRAYS = ("ptr", "docs", "tf", "lengths")


def idf_lucene(df: npt.NDArray[np.int64], n_docs: int) -> npt.NDArray[np.float64]:
    """Lucene's BM25 idf, log(1 + (N - df + 0.5) / (df + 0.5)) of each document frequency:
    never negative, unlike rank_bm25's Robertson-Sparck Jones variant for words in more than
    half of a small corpus."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def length_norm(doc_len: npt.NDArray[np.float64], avg_len: float) -> npt.NDArray[np.float64]:
    """BM25's length normalisation of each document, k1 * (1 - b + b * len / avg)."""
    return K1 * (1.0 - B + B * doc_len / avg_len)


def saturate(tf: npt.NDArray[Any], norm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The BM25 term-frequency factor tf * (k1 + 1) / (tf + norm)."""
    return tf * (K1 + 1.0) / (tf + norm)


def bm25_tf(
    tf: npt.NDArray[np.float64], doc_len: npt.NDArray[np.float64], avg_len: float
) -> npt.NDArray[np.float64]:
    """The BM25 term-frequency factor with length normalisation (k1, b as above)."""
    return saturate(tf, length_norm(doc_len, avg_len))


@dataclass(frozen=True, eq=False)
class Block:
    """Postings of some passages over term ids below len(ptr) - 1: term t occurs in internal
    passages docs[ptr[t]:ptr[t+1]] (ascending), tf[...] times."""

    ptr: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int32]
    tf: npt.NDArray[np.float32]

    def span(self, tid: int) -> tuple[int, int]:
        if tid + 1 >= len(self.ptr):
            return 0, 0
        return int(self.ptr[tid]), int(self.ptr[tid + 1])

    @property
    def nbytes(self) -> int:
        return int(self.ptr.nbytes + self.docs.nbytes + self.tf.nbytes)


def block_of(
    n_terms: int, tids: npt.NDArray[np.int64], docs: npt.NDArray[np.int32], tf: npt.NDArray[Any]
) -> Block:
    """A block from postings (term id, internal passage, count) given in passage order."""
    order = np.argsort(tids, kind="stable")  # grouped by term, passages stay in order
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(tids, minlength=n_terms), out=ptr[1:])
    return Block(ptr, docs[order], tf[order].astype(np.float32, copy=False))


class Index:
    """Term -> passages with their counts, and the collection statistics BM25 needs. Never
    changed once built (reportqa.merge makes a new one for a change)."""

    def __init__(
        self,
        vocab: dict[str, int],
        terms: Sequence[str],
        df: npt.NDArray[np.int64],
        blocks: tuple[Block, ...],
        lengths: npt.NDArray[np.int32],
        n_docs: int,
        total_len: int,
        doc_pos: npt.NDArray[np.int32] | None = None,
        parts: Any = None,
    ) -> None:
        self.vocab = vocab  # the terms live passages hold -> term id
        self.terms = terms  # term id -> term (ids no live passage holds stay unused)
        self.df = df  # live passages holding each term
        self.blocks = blocks
        self.lengths = lengths  # terms per internal passage
        self.n_docs = n_docs  # live passages
        self.avg_len = total_len / n_docs if n_docs and total_len > 0 else 1.0
        self.doc_pos = doc_pos  # internal passage -> position (None: the same)
        self.parts = parts  # what reportqa.merge needs to update this index
        idf = idf_lucene(df, n_docs)
        idf[df == 0] = 0.0
        view = np.full(len(df), VIEW_WEIGHTS["word"])
        view[[i for i, t in enumerate(terms) if t.startswith(BIGRAM)]] = VIEW_WEIGHTS["bigram"]
        self._coef = idf * view
        self._norm = length_norm(lengths.astype(np.float64), self.avg_len)
        self.idf = idf.astype(np.float32)

    @classmethod
    def build(cls, texts: Sequence[str], terms_of: Callable[[str], list[str]]) -> Index:
        """One block over normalised texts; `terms_of` is the tokenizer."""
        vocab: dict[str, int] = {}
        tids: list[int] = []
        docs: list[int] = []
        tf: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int32)
        for d, text in enumerate(texts):
            terms = terms_of(text)
            lengths[d] = len(terms)
            for term, count in Counter(terms).items():
                tids.append(vocab.setdefault(term, len(vocab)))
                docs.append(d)
                tf.append(count)
        block = block_of(
            len(vocab),
            np.array(tids, dtype=np.int64),
            np.array(docs, dtype=np.int32),
            np.array(tf, dtype=np.float32),
        )
        return cls.of(vocab, list(vocab), (block,), lengths)

    @classmethod
    def of(
        cls,
        vocab: dict[str, int],
        terms: Sequence[str],
        blocks: tuple[Block, ...],
        lengths: npt.NDArray[np.int32],
        parts: Any = None,
    ) -> Index:
        """An index over every internal passage of `blocks`, in that order (none removed)."""
        df = np.zeros(len(terms), dtype=np.int64)
        for block in blocks:
            counts = np.diff(block.ptr)
            df[: len(counts)] += counts
        total = int(lengths.sum(dtype=np.int64))
        return cls(vocab, terms, df, blocks, lengths, len(lengths), total, None, parts)

    def score(self, term_weights: dict[int, float]) -> npt.NDArray[np.float64]:
        """BM25 scores of every live passage, by position, for weighted query term ids. Terms
        are added in the order of their text, so the sum is the same whatever the ids are."""
        if not term_weights:
            return np.zeros(self.n_docs)
        items = sorted(term_weights.items(), key=lambda tw: self.terms[tw[0]])
        docs: list[npt.NDArray[np.int32]] = []
        tfs: list[npt.NDArray[np.float32]] = []
        coefs: list[float] = []
        sizes: list[int] = []
        for block in self.blocks:
            for tid, w in items:
                a, b = block.span(tid)
                if b > a:
                    docs.append(block.docs[a:b])
                    tfs.append(block.tf[a:b])
                    coefs.append(float(self._coef[tid]) * w)
                    sizes.append(b - a)
        if not docs:
            return np.zeros(self.n_docs)
        idx = np.concatenate(docs)
        vals = saturate(np.concatenate(tfs).astype(np.float64), self._norm[idx])
        vals *= np.repeat(np.array(coefs), sizes)
        if self.doc_pos is not None:
            idx = self.doc_pos[idx]
        return np.bincount(idx, weights=vals, minlength=self.n_docs + 1)[: self.n_docs]

    @property
    def nbytes(self) -> int:
        return int(sum(b.nbytes for b in self.blocks) + self.df.nbytes + self.lengths.nbytes)

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """Write a one-block index with nothing removed: arrays and terms (one a line)."""
        if len(self.blocks) != 1 or self.doc_pos is not None:
            raise ValueError("only a merged index is saved")
        folder.mkdir(parents=True, exist_ok=True)
        block = self.blocks[0]
        arrays = {"ptr": block.ptr, "docs": block.docs, "tf": block.tf, "lengths": self.lengths}
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", arrays[name], allow_pickle=False)
        (folder / "vocab.txt").write_text("\n".join(self.terms), encoding="utf-8")
        (folder / "meta.txt").write_text(f"{FORMAT_VERSION}\n{self.n_docs}\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Index | None:
        """The saved index in `folder` (arrays memory-mapped), or None when absent, stale or
        unreadable."""
        try:
            version, n_docs = (folder / "meta.txt").read_text(encoding="utf-8").split()
            if version != FORMAT_VERSION:
                return None
            arrays = {
                # memory-mapped, but as plain arrays: slicing a np.memmap is slow
                name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False).view(
                    np.ndarray
                )
                for name in _ARRAYS
            }
            text = (folder / "vocab.txt").read_text(encoding="utf-8")
            terms = text.split("\n") if text else []
        except (OSError, ValueError):
            return None
        ptr = arrays["ptr"]
        if len(terms) + 1 != len(ptr) or len(arrays["lengths"]) != int(n_docs):
            return None
        if int(ptr[-1]) != len(arrays["docs"]) or len(arrays["docs"]) != len(arrays["tf"]):
            return None
        vocab = {t: i for i, t in enumerate(terms)}
        block = Block(ptr, arrays["docs"], arrays["tf"])
        return cls.of(vocab, terms, (block,), arrays["lengths"])
