"""One report's share of the index, computed once and kept: its passages' terms and counts.

A segment holds, for one report file, the report itself, its own tokenizer words, its local
vocabulary, each passage's length in terms and its postings (local term -> passages, term
counts), term-major as in the index. It depends on nothing but the report file's bytes and the
indexing code, so its key is a hash of those two: an unchanged report is never cut again,
whatever else changes in the knowledge base (the tokenizer cuts a report with its own words
only, see tokenize.py).

Segments are kept as `.npz` files named by their key. A file is written under a temporary name
and renamed into place, so two processes writing the same segment at once each leave a whole
file (the same one); a damaged or partial file fails to load and is simply built again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from reportqa.kb import schema
from reportqa.models import KnowledgeBase, Passage, Report
from reportqa.normalize import normalize
from reportqa.tokenize import Tokenizer, report_words

FORMAT = "seg3"
SUFFIX = ".npz"
# What a segment's content depends on: how a report file is parsed and kept (the Report stored
# in it) and how its text is normalised and cut.
_CODE = ("segment.py", "tokenize.py", "cut.py", "normalize.py", "models.py", "kb/schema.py")


@lru_cache(maxsize=1)
def code_digest() -> bytes:
    """A hash of that code and of the versions of the libraries it leans on (jieba, OpenCC,
    PyYAML, Unicode's tables): a change to any makes new keys."""
    import unicodedata
    from importlib.metadata import version

    import jieba
    import yaml

    libraries = f"jieba {jieba.__version__} opencc {version('OpenCC')} yaml {yaml.__version__}"
    h = hashlib.sha256(f"{FORMAT} {libraries} unicode {unicodedata.unidata_version}".encode())
    for name in _CODE:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.digest()


def segment_key(data: bytes) -> str:
    """The key of the segment of a report file with these bytes."""
    return hashlib.sha256(code_digest() + data).hexdigest()[:32]


def passage_text(p: Passage) -> str:
    """What is indexed for a passage: each heading of its section path and its text,
    normalised apart and kept apart by a space (which jieba and the bigrams never cross), so
    a heading's terms are the same in every passage under it and are cut once a report."""
    return " ".join([*(normalize(h) for h in p.section), normalize(p.text)])


@dataclass(frozen=True, eq=False)
class Segment:
    """The index terms of one report: term t of `terms` occurs in passages
    `docs[ptr[t]:ptr[t+1]]` (ascending), `tf[...]` times each. Terms never hold a line break
    (normalised text has no white space but a space between two Latin words)."""

    key: str
    report: Report
    words: tuple[str, ...]  # the report's own tokenizer words
    term_text: str  # the terms, one a line (one string: cheap to pickle and to keep)
    lengths: npt.NDArray[np.int32]  # terms per passage (repeats counted)
    ptr: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int32]
    tf: npt.NDArray[np.float32]

    @property
    def n_docs(self) -> int:
        return len(self.report.passages)

    @property
    def n_terms(self) -> int:
        return len(self.ptr) - 1

    @cached_property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.term_text.split("\n")) if self.term_text else ()

    @cached_property
    def report_json(self) -> str:
        """The report as JSON (kept in the segment file, and in a base as it is)."""
        return json.dumps(schema.report_to_dict(self.report), ensure_ascii=False)

    @property
    def df(self) -> npt.NDArray[np.int64]:
        """Passages holding each local term."""
        return np.diff(self.ptr)

    # ------------------------------------------------------------------ persistence

    def save(self, folder: Path) -> None:
        """Write the segment as `folder/<key>.npz`, atomically (temporary name, rename)."""
        meta = {"format": FORMAT, "key": self.key, "words": list(self.words)}
        buf = io.BytesIO()
        np.savez(
            buf,
            meta=_utf8(json.dumps(meta, ensure_ascii=False)),
            report=_utf8(self.report_json),
            terms=_utf8(self.term_text),
            lengths=self.lengths,
            ptr=self.ptr,
            docs=self.docs,
            tf=self.tf,
        )
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{self.key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, folder / f"{self.key}{SUFFIX}")
        finally:
            tmp.unlink(missing_ok=True)


def load(folder: Path, key: str) -> Segment | None:
    """The segment `key` kept in `folder`, or None when it is absent, partial or damaged."""
    path = folder / f"{key}{SUFFIX}"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in _MEMBERS}
        meta = json.loads(_text(arrays["meta"]))
        if meta["format"] != FORMAT or meta["key"] != key:
            return None
        report_json = _text(arrays["report"])
        seg = Segment(
            key,
            schema.report_from_dict(json.loads(report_json)),
            tuple(meta["words"]),
            _text(arrays["terms"]),
            arrays["lengths"].astype(np.int32, copy=False),
            arrays["ptr"].astype(np.int64, copy=False),
            arrays["docs"].astype(np.int32, copy=False),
            arrays["tf"].astype(np.float32, copy=False),
        )
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        EOFError,
        zipfile.BadZipFile,
        NotImplementedError,  # zipfile: a damaged header names an unknown version
        RuntimeError,  # zipfile: a damaged header marks the member encrypted
    ):
        return None
    seg.__dict__["report_json"] = report_json  # as read: no need to write it again
    ok = (
        len(seg.ptr) == len(seg.terms) + 1
        and all(seg.terms)
        and len(seg.lengths) == seg.n_docs
        and int(seg.ptr[-1]) == len(seg.docs) == len(seg.tf)
    )
    return seg if ok else None


_MEMBERS = ("meta", "report", "terms", "lengths", "ptr", "docs", "tf")


def _utf8(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8"), np.uint8)


def _text(array: npt.NDArray[np.uint8]) -> str:
    return array.tobytes().decode("utf-8")


def build(key: str, report: Report, tokenizer: Tokenizer) -> Segment:
    """Cut every passage of `report` with jieba's dictionary and the report's own words."""
    words = tuple(sorted(report_words(report)))
    headings: dict[str, list[str]] = {}  # a heading's terms, cut once
    flat: list[str] = []
    lengths = np.zeros(len(report.passages), dtype=np.int32)
    with tokenizer.with_words(words):
        for d, p in enumerate(report.passages):
            before = len(flat)
            for h in p.section:
                terms = headings.get(h)
                if terms is None:
                    terms = headings[h] = tokenizer.terms(normalize(h))
                flat.extend(terms)
            flat.extend(tokenizer.terms(normalize(p.text)))
            lengths[d] = len(flat) - before
    vocab = {t: i for i, t in enumerate(dict.fromkeys(flat))}
    tid = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    n = max(len(report.passages), 1)
    did = np.repeat(np.arange(len(report.passages), dtype=np.int64), lengths)
    pairs, counts = np.unique(tid * n + did, return_counts=True)  # by term, then passage
    ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs // n, minlength=len(vocab)), out=ptr[1:])
    return Segment(
        key,
        report,
        words,
        "\n".join(vocab),
        lengths,
        ptr,
        (pairs % n).astype(np.int32),
        counts.astype(np.float32),
    )


def index_texts(kb: KnowledgeBase) -> list[str]:
    """What is indexed for every passage of a knowledge base, in order."""
    return [passage_text(p) for r in kb.reports for p in r.passages]
