"""The index of a knowledge base made from its reports' segments: merged whole, or updated.

A full merge puts every segment's postings into one block, the base, in knowledge-base order.
An update, as Lucene keeps segments, leaves the base as it is: the passages of the reports
removed or replaced since it was merged are dropped (from the statistics, and mapped to no
position), and the reports added or replaced since then form a second block, the tail, merged
again at each update (it is small). The statistics BM25 needs (document frequencies, the number
of live passages, their total length) are those of the live passages exactly, and an index
scores a passage the same whichever block holds it, so an updated index ranks exactly as a
full merge of the same knowledge base. Once the tail or the dropped passages outgrow a share of
the knowledge base, `update` says so (None) and the caller merges everything again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from reportqa.index import Block, Index
from reportqa.segment import Segment

MERGE_SHARE = 0.1  # tail or dropped passages past this share of the live ones: merge again
MERGE_MIN = 2000  # ... but a tail of up to this many passages is always fine


@dataclass(frozen=True, eq=False)
class Parts:
    """How an index is made of segments: the base's segments (internal order) with their first
    passage, the base's terms, document frequencies and words, the tail's segments, and the
    live segments in knowledge-base order (and the base's removed ones)."""

    base_id: str
    base_keys: tuple[str, ...]
    base_starts: dict[str, int]
    base_counts: dict[str, int]  # passages of each base segment
    base_lookup: dict[str, int]  # every term of the base -> id (never changed)
    base_df: npt.NDArray[np.int64]
    base_words: dict[str, tuple[str, ...]]
    tail: tuple[Segment, ...]
    order: tuple[str, ...]
    # segments of base reports removed since the merge: their terms leave the statistics at
    # every update, so they are kept (bounded: past MERGE_SHARE everything is merged again)
    dropped: tuple[Segment, ...] = ()

    @property
    def base_docs(self) -> int:
        return sum(self.base_counts.values())

    def words(self) -> set[str]:
        """The tokenizer words of every live report (the question tokenizer's dictionary)."""
        words = {**self.base_words, **{s.key: s.words for s in self.tail}}
        return set().union(*(words[k] for k in self.order))


def _block(
    segments: Sequence[Segment], gid: npt.NDArray[np.int64], n_terms: int, first_doc: int
) -> Block:
    """One block over the segments, their passages numbered from `first_doc` on; `gid` holds
    the term ids of their terms in turn. Each segment is term-major already, so every run of
    postings (one term of one segment) is copied whole to its place: after the runs of the
    same term in earlier segments (no sort of the postings)."""
    runs = np.concatenate([s.df for s in segments]) if segments else np.zeros(0, dtype=np.int64)
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(gid, weights=runs, minlength=n_terms).astype(np.int64), out=ptr[1:])
    fill = ptr[:-1].copy()
    start = np.empty(len(gid), dtype=np.int64)  # where each run goes
    at = 0
    for seg in segments:
        ids = gid[at : at + seg.n_terms]
        start[at : at + seg.n_terms] = fill[ids]
        fill[ids] += seg.df
        at += seg.n_terms
    total = int(ptr[-1])
    dest = np.repeat(start - (np.cumsum(runs) - runs), runs) + np.arange(total)
    docs = np.empty(total, dtype=np.int32)
    tf = np.empty(total, dtype=np.float32)
    if segments:
        firsts = first_doc + np.cumsum([0, *(s.n_docs for s in segments[:-1])])
        docs[dest] = np.concatenate(
            [s.docs + np.int32(a) for s, a in zip(segments, firsts, strict=True)]
        )
        tf[dest] = np.concatenate([s.tf for s in segments])
    return Block(ptr, docs, tf)


def full(segments: Sequence[Segment], base_id: str) -> Index:
    """One block over the segments, in their order (the knowledge base's)."""
    text = "\n".join(s.term_text for s in segments if s.term_text)
    flat = text.split("\n") if text else []
    unique = dict.fromkeys(flat)  # first-seen order
    lookup = dict(zip(unique, range(len(unique)), strict=True))
    gid = np.fromiter(map(lookup.__getitem__, flat), dtype=np.int64, count=len(flat))
    block = _block(segments, gid, len(lookup), 0)
    lengths = np.concatenate([s.lengths for s in segments]) if segments else np.zeros(0, np.int32)
    keys = tuple(s.key for s in segments)
    starts = np.cumsum([0, *(s.n_docs for s in segments)])
    parts = Parts(
        base_id,
        keys,
        dict(zip(keys, starts.tolist(), strict=False)),
        {s.key: s.n_docs for s in segments},
        lookup,
        np.diff(block.ptr),
        {s.key: s.words for s in segments},
        (),
        keys,
    )
    return Index.of(lookup, list(lookup), (block,), lengths.astype(np.int32), parts)


def update(
    old: Index,
    order: Sequence[str],
    fresh: dict[str, Segment],
    segment_of: Callable[[str], Segment],
) -> Index | None:
    """`old` (an index with Parts) changed to serve the segments `order`, in that order:
    `fresh` holds the segments added since `old`, `segment_of` gives any other segment (those
    of removed base reports, whose terms leave the statistics). None when the change is too
    large for the tail: merge everything again."""
    parts: Parts = old.parts
    base = old.blocks[0]
    nb = parts.base_docs
    known = {s.key: s for s in (*parts.tail, *parts.dropped)} | fresh
    tail = [known.get(k) or segment_of(k) for k in order if k not in parts.base_starts]
    live = set(order)
    dead = [known.get(k) or segment_of(k) for k in parts.base_keys if k not in live]
    tail_docs = sum(s.n_docs for s in tail)
    dead_docs = sum(s.n_docs for s in dead)
    n_live = nb - dead_docs + tail_docs
    limit = max(MERGE_MIN, MERGE_SHARE * n_live)
    if tail_docs > limit or dead_docs > limit:
        return None
    lookup = parts.base_lookup
    extra: dict[str, int] = {}
    n_base_terms = len(parts.base_df)
    gid = np.array(
        [
            lookup[t] if t in lookup else extra.setdefault(t, n_base_terms + len(extra))
            for s in tail
            for t in s.terms
        ],
        dtype=np.int64,
    )
    n_terms = n_base_terms + len(extra)
    tail_block = _block(tail, gid, n_terms, nb)
    df = np.zeros(n_terms, dtype=np.int64)
    df[:n_base_terms] = parts.base_df
    df += np.diff(tail_block.ptr)
    base_lengths = old.lengths[:nb]
    total = int(base_lengths.sum(dtype=np.int64))
    for seg in dead:
        df[[lookup[t] for t in seg.terms]] -= seg.df
        total -= int(seg.lengths.sum(dtype=np.int64))
    tail_lengths = [s.lengths for s in tail]
    lengths = np.concatenate([base_lengths, *tail_lengths]).astype(np.int32)
    total += int(sum(int(x.sum(dtype=np.int64)) for x in tail_lengths))
    vocab = dict(lookup)
    for seg in dead:
        for t in seg.terms:
            if df[lookup[t]] == 0:
                vocab.pop(t, None)
    vocab.update(extra)
    terms = [*old.terms[:n_base_terms], *extra]
    doc_pos = _positions(parts, tail, order, nb, n_live)
    new_parts = replace(parts, tail=tuple(tail), order=tuple(order), dropped=tuple(dead))
    blocks: tuple[Block, ...] = (base, tail_block) if tail else (base,)
    return Index(vocab, terms, df, blocks, lengths, n_live, total, doc_pos, new_parts)


def _positions(
    parts: Parts, tail: Sequence[Segment], order: Sequence[str], nb: int, n_live: int
) -> npt.NDArray[np.int32] | None:
    """Internal passage -> position in the knowledge base (n_live for a dropped one); None
    when they are the same."""
    if tuple(order) == parts.base_keys:
        return None
    starts = dict(parts.base_starts)
    counts = dict(parts.base_counts)
    at = nb
    for s in tail:
        starts[s.key], counts[s.key] = at, s.n_docs
        at += s.n_docs
    pos = np.full(at, n_live, dtype=np.int32)
    p = 0
    for key in order:
        a, n = starts[key], counts[key]
        pos[a : a + n] = np.arange(p, p + n, dtype=np.int32)
        p += n
    return pos
