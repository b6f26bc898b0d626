"""Inverted index with BM25 weights computed once, at build time.

Postings are stored column-wise (as in a CSC matrix): for term t, `docs[ptr[t]:ptr[t+1]]` are
the passages that hold it and `weights[...]` their finished BM25 contributions, so answering a
question is one gather and one `np.bincount`, with no per-question arithmetic over documents.
The tokenizer is passed in, so tests can index with a trivial one. The built arrays are saved
beside the YAML, keyed by a hash of the knowledge base, and memory-mapped on the next start.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reportqa.models import KnowledgeBase
from reportqa.normalize import normalize
from reportqa.tokenize import BIGRAM

K1 = 1.2
B = 0.75
VIEW_WEIGHTS = {"word": 1.0, "bigram": 0.6}  # a bigram match counts a little over half a word
FORMAT_VERSION = "3"


def idf_lucene(df: npt.NDArray[np.int64], n_docs: int) -> npt.NDArray[np.float64]:
    """Lucene's BM25 idf, log(1 + (N - df + 0.5) / (df + 0.5)) of each document frequency:
    never negative, unlike rank_bm25's Robertson-Sparck Jones variant for words in more than
    half of a small corpus."""
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def bm25_tf(
    tf: npt.NDArray[np.float64], doc_len: npt.NDArray[np.float64], avg_len: float
) -> npt.NDArray[np.float64]:
    """The BM25 term-frequency factor with length normalisation (k1, b as above)."""
    return tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * doc_len / avg_len))


@dataclass(frozen=True)
class Index:
    """Term -> (passages, BM25 weights), over the passages in `keys` order."""

    vocab: dict[str, int]
    ptr: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    idf: npt.NDArray[np.float32]
    n_docs: int

    @classmethod
    def build(cls, texts: Sequence[str], terms_of: Callable[[str], list[str]]) -> Index:
        """Index normalised texts; `terms_of` is the tokenizer."""
        vocab: dict[str, int] = {}
        term_ids = array("i")
        doc_ids = array("i")
        tfs = array("f")
        lengths = np.zeros(len(texts), dtype=np.float64)
        for doc, text in enumerate(texts):
            terms = terms_of(text)
            lengths[doc] = len(terms)
            for term, count in Counter(terms).items():
                term_ids.append(vocab.setdefault(term, len(vocab)))
                doc_ids.append(doc)
                tfs.append(count)
        n = len(texts)
        avg_len = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        tid = np.frombuffer(term_ids, dtype=np.int32)
        did = np.frombuffer(doc_ids, dtype=np.int32)
        tf = np.frombuffer(tfs, dtype=np.float32).astype(np.float64)
        order = np.argsort(tid, kind="stable")  # group by term, documents stay in order
        tid, did, tf = tid[order], did[order], tf[order]
        df = np.bincount(tid, minlength=len(vocab))
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=ptr[1:])
        idf = idf_lucene(df, n)
        view = np.full(len(vocab), VIEW_WEIGHTS["word"])
        for term, i in vocab.items():
            if term.startswith(BIGRAM):
                view[i] = VIEW_WEIGHTS["bigram"]
        weights = (bm25_tf(tf, lengths[did], avg_len) * idf[tid] * view[tid]).astype(np.float32)
        return cls(vocab, ptr, did.copy(), weights, idf.astype(np.float32), n)

    def score(self, term_weights: dict[int, float]) -> npt.NDArray[np.float64]:
        """BM25 scores of every passage for weighted query term ids."""
        if not term_weights:
            return np.zeros(self.n_docs)
        spans = [(int(self.ptr[t]), int(self.ptr[t + 1]), w) for t, w in term_weights.items()]
        idx = np.concatenate([self.docs[a:b] for a, b, _ in spans])
        if all(w == 1.0 for _, _, w in spans):
            vals = np.concatenate([self.weights[a:b] for a, b, _ in spans])
        else:
            vals = np.concatenate([self.weights[a:b] * w for a, b, w in spans])
        return np.bincount(idx, weights=vals, minlength=self.n_docs).astype(np.float64)

    def df(self, tid: int) -> int:
        return int(self.ptr[tid + 1] - self.ptr[tid])

    @property
    def nbytes(self) -> int:
        return int(self.ptr.nbytes + self.docs.nbytes + self.weights.nbytes + self.idf.nbytes)

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """Write the arrays and the vocabulary (one term a line) into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ptr", "docs", "weights", "idf"):
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "vocab.txt").write_text("\n".join(terms), encoding="utf-8")
        (folder / "meta.txt").write_text(f"{FORMAT_VERSION}\n{self.n_docs}\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Index | None:
        """The saved index in `folder`, or None when absent, stale or unreadable."""
        try:
            version, n_docs = (folder / "meta.txt").read_text(encoding="utf-8").split()
            if version != FORMAT_VERSION:
                return None
            arrays = {
                # memory-mapped, but as plain arrays: slicing a np.memmap is slow
                name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False).view(
                    np.ndarray
                )
                for name in ("ptr", "docs", "weights", "idf")
            }
            text = (folder / "vocab.txt").read_text(encoding="utf-8")
            terms = text.split("\n") if text else []
        except (OSError, ValueError):
            return None
        if len(terms) != len(arrays["idf"]):
            return None
        vocab = {t: i for i, t in enumerate(terms)}
        return cls(
            vocab, arrays["ptr"], arrays["docs"], arrays["weights"], arrays["idf"], int(n_docs)
        )


def index_texts(kb: KnowledgeBase) -> Sequence[str]:
    """What is indexed for each passage: its section path and text, normalised."""
    return [normalize(" ".join(p.section) + " " + p.text) for r in kb.reports for p in r.passages]
