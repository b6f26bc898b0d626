"""Open a knowledge folder as a ready Engine; a change costs what the change is.

The cache lives in `<knowledge>/.cache/` and never decides what is true (the YAML does):
- `segments/<key>.npz`: one report's terms and postings (reportqa.segment), keyed by a hash of
  the report file's bytes and the indexing code, so a report is cut by jieba once;
- `bases/<id>/`: a full merge of segments (reportqa.merge) with its reports as JSON;
- `points/<hash>.json`: for one content of the folder (a hash of every file and the code), the
  base it starts from and the live segments in order; opening that content again is loading the
  base (memory-mapped) and the few segments of its tail.

Opening a content with no point updates the engine passed in (the running bot's) or the newest
point's: only the reports whose bytes changed are parsed and cut, the others are reused; a
large change, or no point at all, merges every segment again, and a cold build cuts reports on
every core. Files are written under temporary names and renamed, so two processes building at
once never see each other's half-written files; a damaged file fails to load and is rebuilt.
Old points, bases and segments are removed as new ones come (bounded disk use).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from reportqa import index as index_module
from reportqa import merge, segment
from reportqa.index import FORMAT_VERSION, Index
from reportqa.kb import layout, schema, validate
from reportqa.kb.repository import ChangeRejected, Repository, facts_of
from reportqa.models import Fact, KnowledgeBase, Report
from reportqa.places import gazetteer
from reportqa.search import Engine
from reportqa.segment import Segment
from reportqa.tokenize import Tokenizer

log = logging.getLogger(__name__)
CACHE_DIR = ".cache"
KEEP_POINTS = 3  # points kept (with their bases and segments); older ones are removed
PARALLEL_MIN = 1500  # passages to cut from which a process per core pays for its start
STALE_SECONDS = 600  # an unreferenced segment or temporary file this old is removed


def content_hash(folder: Path, files: dict[str, bytes] | None = None) -> str:
    """A hash of every knowledge file's name and bytes (and the indexing code)."""
    h = hashlib.sha256(_merge_code())
    files = files if files is not None else Repository(folder).snapshot()
    for rel, data in sorted(files.items()):
        h.update(rel.encode("utf-8") + b"\0" + data + b"\0")
    return h.hexdigest()[:24]


def open_engine(
    folder: Path,
    use_cache: bool = True,
    files: dict[str, bytes] | None = None,
    previous: Engine | None = None,
) -> Engine:
    """The engine for the knowledge base in `folder` (KnowledgeError if it has problems);
    `files` are its bytes when the caller has read them already (under the repository lock),
    otherwise the last complete version is read (never half a change). `previous`, an engine
    of an earlier content of the folder, is updated rather than rebuilt."""
    files = files if files is not None else Repository(folder).snapshot()
    store = Store(folder / CACHE_DIR) if use_cache else None
    digest = content_hash(folder, files)
    if store is not None:
        store.wait()  # what this process is still writing there
        engine = store.load_point(store.points / f"{digest}.json", files)
        if engine is not None:
            return engine
    held = _Held.of(previous)
    if store is not None and held is None:
        held = store.newest_held()
    opening = _Opening(folder, files, store, held)
    engine = opening.engine()
    if store is not None:  # kept while the engine already answers
        store.keep(digest, engine.index, opening.merged_reports)
    return engine


def build(kb: KnowledgeBase) -> Engine:
    """An engine for a knowledge base held in memory (no folder, no cache)."""
    tok = Tokenizer()
    segments = [segment.build(_key_of(r), r, tok) for r in kb.reports]
    index = merge.full(segments, _base_id([s.key for s in segments]))
    return Engine(kb, index, Tokenizer(index.parts.words()), gazetteer())


def _report_keys(files: dict[str, bytes]) -> dict[str, str]:
    """relative path -> segment key of every report file of `files`."""
    return {
        rel: segment.segment_key(data)
        for rel, data in files.items()
        if layout.is_knowledge_file(rel) and rel != "facts.yaml"
    }


def remember_reports(
    files: dict[str, bytes], reports: dict[str, Report], keys: dict[str, str] | None = None
) -> None:
    """Tell validate the report each report file of `files` holds (`reports` by segment key;
    `keys` the files' keys when known), so checking a change parses only what it changes."""
    for rel, key in (keys if keys is not None else _report_keys(files)).items():
        report = reports.get(key)
        if report is not None:
            validate.remember(files[rel], report)


def remember_held(folder: Path, files: dict[str, bytes] | None = None) -> None:
    """Before a change from the command line: the reports the newest cache point holds are
    taken as parsed for the files (default: the folder's) that have their bytes (reading the
    point's JSON is faster than parsing the YAML of thousands of reports)."""
    held = Store(folder / CACHE_DIR).newest_held()
    if held is not None:
        reports = dict(zip(held.index.parts.order, held.reports, strict=True))
        remember_reports(files if files is not None else layout.knowledge_files(folder), reports)


def _key_of(report: Report) -> str:
    return segment.segment_key(schema.dump_report(report).encode("utf-8"))


def _base_id(keys: Sequence[str]) -> str:
    """A base's name: its segments and the code that merges and scores them."""
    return hashlib.sha256(_merge_code() + "\n".join(keys).encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=1)
def _merge_code() -> bytes:
    h = hashlib.sha256(f"v{FORMAT_VERSION}".encode() + segment.code_digest())
    for module in (index_module, merge):  # how segments are merged and scored
        h.update(Path(str(module.__file__)).read_bytes())
    return h.digest()


def _report_rel(report_id: str) -> str:
    return f"reports/{report_id}.yaml"


@dataclass(frozen=True)
class _Held:
    """An index made of segments and its reports, in its order: what an update starts from."""

    index: Index
    reports: tuple[Report, ...]

    @classmethod
    def of(cls, engine: Engine | None) -> _Held | None:
        if engine is None or not isinstance(engine.index.parts, merge.Parts):
            return None
        return cls(engine.index, engine.kb.reports)


class _Opening:
    """One opening of a content with no point: parse and cut what is new, check the whole,
    update what is held or merge everything."""

    def __init__(
        self,
        folder: Path,
        files: dict[str, bytes],
        store: Store | None,
        held: _Held | None,
    ) -> None:
        self.folder, self.files, self.store, self.held = folder, files, store, held
        self.keys = _report_keys(files)
        self.reports: dict[str, Report] = {}  # key -> its report, parsed
        self.segments: dict[str, Segment] = {}  # key -> segments at hand
        if held is not None:
            parts: merge.Parts = held.index.parts
            self.reports = dict(zip(parts.order, held.reports, strict=True))
            self.segments = {s.key: s for s in parts.tail}
        self._tokenizer: Tokenizer | None = None
        self.merged_reports: list[str] | None = None  # set when everything was merged

    def engine(self) -> Engine:
        t0 = time.perf_counter()
        new = [rel for rel, key in self.keys.items() if key not in self.reports]
        for seg in self._segments_for({rel: self.keys[rel] for rel in new}):
            self.segments[seg.key] = seg
            self.reports[seg.key] = seg.report
        t1 = time.perf_counter()
        remember_reports(self.files, self.reports, self.keys)  # only checks across files remain
        kb, problems = validate.check(self.folder, overlay=dict(self.files), exact=True)
        if kb is None:
            raise schema.KnowledgeError(problems)
        order = [self.keys[_report_rel(r.report_id)] for r in kb.reports]
        index = None
        if self.held is not None:
            fresh = {k: self.segments[k] for k in order if k in self.segments}
            index = merge.update(self.held.index, order, fresh, self._segment)
        if index is None:
            index = self._full(order)
        t2 = time.perf_counter()
        engine = Engine(kb, index, Tokenizer(index.parts.words()), gazetteer())
        log.debug(
            "index of %d reports: %d new (%.2f s), %s (%.2f s), engine (%.2f s)",
            len(order),
            len(new),
            t1 - t0,
            "updated" if len(index.blocks) > 1 or index.doc_pos is not None else "merged",
            t2 - t1,
            time.perf_counter() - t2,
        )
        return engine

    def _segments_for(self, wanted: dict[str, str]) -> list[Segment]:
        """The segments of report files `wanted` (rel -> key): kept ones loaded, the others
        parsed and cut (on every core when there are many); files that do not parse are left
        out (the check reports them)."""
        found = []
        missing = {}
        for rel, key in wanted.items():
            seg = self.store.segment(key) if self.store else None
            if seg is not None:
                found.append(seg)
            else:
                missing[rel] = key
        jobs = [(rel, self.files[rel], key) for rel, key in sorted(missing.items())]
        folder = self.store.segments if self.store else None
        return found + [s for s in _cut_all(jobs, folder) if s is not None]

    def _segment(self, key: str) -> Segment:
        """Any segment the update needs (one of a removed report, kept or cut again)."""
        seg = self.segments.get(key) or (self.store.segment(key) if self.store else None)
        if seg is None:
            if self._tokenizer is None:
                self._tokenizer = Tokenizer()
            seg = segment.build(key, self.reports[key], self._tokenizer)
        self.segments[key] = seg
        return seg

    def _full(self, order: Sequence[str]) -> Index:
        wanted = {_report_rel(self.reports[k].report_id): k for k in order}
        absent = {rel: k for rel, k in wanted.items() if k not in self.segments}
        for seg in self._segments_for(absent):
            self.segments[seg.key] = seg
        segments = [self.segments[k] for k in order]
        self.merged_reports = [s.report_json for s in segments]  # for the base kept
        return merge.full(segments, _base_id(order))


# ---------------------------------------------------------------------- cutting reports


def _cut_all(jobs: list[tuple[str, bytes, str]], folder: Path | None) -> list[Segment | None]:
    """Parse and cut report files (rel, bytes, key), saving each segment into `folder`; in a
    process per core when there is enough to cut, with a progress bar past a second."""
    if not jobs:
        return []
    size = sum(len(data) for _, data, _ in jobs)
    workers = os.cpu_count() or 1
    parallel = workers > 1 and size >= PARALLEL_MIN * 800  # ~800 bytes of YAML a passage
    context = _pool_context() if parallel else None  # before tqdm starts its monitor thread
    bar = tqdm(total=len(jobs), desc="索引报告", unit="份", delay=1.0, disable=None, leave=False)
    try:
        if context is not None:
            try:
                return _cut_in_pool(jobs, folder, workers, context, bar)
            except BrokenProcessPool as e:  # e.g. a spawned worker could not import __main__
                log.warning("cutting reports on every core failed (%s); cutting here", e)
                bar.reset()
        tokenizer = Tokenizer()  # this call's own: cutting sets a report's words into it
        out = []
        for job in jobs:
            out.append(_cut(job, folder, tokenizer))
            bar.update()
        return out
    finally:
        bar.close()


def _cut_in_pool(
    jobs: list[tuple[str, bytes, str]],
    folder: Path | None,
    workers: int,
    context: multiprocessing.context.BaseContext,
    bar: tqdm,  # type: ignore[type-arg]
) -> list[Segment | None]:
    out: list[Segment | None] = []
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, len(jobs) // (workers * 32))  # small: no worker idles long
        cut = pool.map(_cut, jobs, [folder] * len(jobs), chunksize=chunk)
        # the workers are started: meanwhile load what the engine needs next
        threading.Thread(target=gazetteer, daemon=True).start()
        for seg in cut:
            out.append(seg)
            bar.update()
    return out


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fork while this process has one thread (workers start at once, with jieba's dictionary
    already loaded); spawn otherwise (the running bot: forking a threaded process can
    deadlock), which needs the main module guarded by `if __name__ == "__main__"`."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        Tokenizer()  # loads jieba's dictionary here, once, for every worker
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_worker_tokenizer: Tokenizer | None = None  # a pool worker's, made at its first job


def _cut(
    job: tuple[str, bytes, str], folder: Path | None, tokenizer: Tokenizer | None = None
) -> Segment | None:
    """Parse one report file and cut it (None when it does not parse cleanly)."""
    global _worker_tokenizer
    rel, data, key = job
    problems: list[schema.Problem] = []
    text = schema.read_text(Path(rel), problems, data)
    report = schema.parse_report(text, rel, problems) if text is not None else None
    if report is None or problems:
        return None
    if tokenizer is None:
        if _worker_tokenizer is None:
            _worker_tokenizer = Tokenizer()
        tokenizer = _worker_tokenizer
    seg = segment.build(key, report, tokenizer)
    if folder is not None:
        try:
            seg.save(folder)
        except OSError as e:  # a read-only folder still answers, just without a cache
            log.warning("could not keep the segment of %s: %s", rel, e)
    return seg


# ---------------------------------------------------------------------- the cache


_writing: list[threading.Thread] = []  # cache writes under way in this process
_writing_lock = threading.Lock()


class Store:
    """The cache folder: segments, bases and points (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.segments = root / "segments"
        self.bases = root / "bases"
        self.points = root / "points"

    def segment(self, key: str) -> Segment | None:
        return segment.load(self.segments, key)

    def keep(self, digest: str, index: Index, merged_reports: list[str] | None) -> None:
        """Keep a new content's base (when everything was merged) and point, in a thread of
        its own: the engine answers meanwhile. wait() (every open in this process first
        calls it) and the process's exit wait for it."""

        def write() -> None:
            try:
                if merged_reports is not None:
                    self.save_base(index, merged_reports)
                self.save_point(digest, index)
            except Exception:  # never lost silently; the next open builds what is missing
                log.exception("could not keep the index cache")

        thread = threading.Thread(target=write, name="index-cache-writer")
        with _writing_lock:
            _writing.append(thread)
        thread.start()

    @staticmethod
    def wait() -> None:
        """Until the cache writes this process started are done."""
        with _writing_lock:
            pending = list(_writing)
            _writing.clear()
        for thread in pending:
            thread.join()

    # ------------------------------------------------------------------ bases

    def save_base(self, index: Index, reports_json: Sequence[str]) -> None:
        """Keep a fully merged index, with its reports (as JSON, in order), as bases/<id>/
        (whole or not at all)."""
        parts: merge.Parts = index.parts
        final = self.bases / parts.base_id
        if final.exists():
            return
        tmp = self.bases / f".{parts.base_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            index.save(tmp)
            meta = {
                "keys": list(parts.base_keys),
                "counts": [parts.base_counts[k] for k in parts.base_keys],
                "words": [list(parts.base_words[k]) for k in parts.base_keys],
            }
            (tmp / "parts.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
            (tmp / "reports.json").write_text("[" + ",".join(reports_json) + "]", "utf-8")
            tmp.rename(final)
        except OSError as e:  # another process saved it first, or a read-only folder
            if not final.exists():
                log.warning("could not keep the merged index: %s", e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def load_base(self, base_id: str) -> tuple[Index, dict[str, Report]] | None:
        folder = self.bases / base_id
        if not folder.is_dir():
            return None
        try:
            meta = json.loads((folder / "parts.json").read_text("utf-8"))
            reports = json.loads((folder / "reports.json").read_text("utf-8"))
            keys, counts = tuple(meta["keys"]), meta["counts"]
            # interned: a word many reports share is one string in memory
            words = {k: tuple(map(sys.intern, w)) for k, w in zip(keys, meta["words"], strict=True)}
            by_key = {k: schema.report_from_dict(r) for k, r in zip(keys, reports, strict=True)}
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("removing a damaged merged index %s: %s", folder, e)
            shutil.rmtree(folder, ignore_errors=True)  # built again, whole, when next needed
            return None
        index = Index.load(folder)
        if index is None or sum(counts) != index.n_docs or _base_id(keys) != base_id:
            log.warning("removing a damaged merged index %s", folder)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        starts = list(itertools.accumulate(counts[:-1], initial=0)) if counts else []
        parts = merge.Parts(
            base_id,
            keys,
            dict(zip(keys, starts, strict=True)),
            dict(zip(keys, counts, strict=True)),
            index.vocab,
            index.df,
            words,
            (),
            keys,
        )
        index.parts = parts
        return index, by_key

    # ------------------------------------------------------------------ points

    def save_point(self, digest: str, index: Index) -> None:
        parts: merge.Parts = index.parts
        for seg in parts.tail:  # a tail segment cut in memory (no store then) is kept now
            if not (self.segments / f"{seg.key}{segment.SUFFIX}").exists():
                _try(lambda s=seg: s.save(self.segments))
        if not (self.bases / parts.base_id).exists():
            return  # a base that could not be kept: no point to it either
        point = {"format": FORMAT_VERSION, "base": parts.base_id, "order": list(parts.order)}
        _try(lambda: _write_atomic(self.points / f"{digest}.json", json.dumps(point)))
        self.prune(keep=digest)

    def load_point(self, path: Path, files: dict[str, bytes]) -> Engine | None:
        """The engine of the content `files` from its point (None when absent or unusable)."""
        held = self._held(path)
        facts = _facts(files)
        if held is None or facts is None:
            return None
        parts: merge.Parts = held.index.parts
        remember_reports(files, dict(zip(parts.order, held.reports, strict=True)))
        kb = KnowledgeBase(held.reports, facts)
        return Engine(kb, held.index, Tokenizer(parts.words()), gazetteer())

    def _held(self, path: Path) -> _Held | None:
        """A point's index (the base updated by its tail) and reports (None when unusable)."""
        point = self.read_point(path)
        loaded = self.load_base(point[0]) if point else None
        if point is None or loaded is None:
            return None
        index, reports = loaded
        order = point[1]
        if order != index.parts.base_keys:
            fresh = {}
            for key in order:
                if key not in index.parts.base_starts:
                    seg = self.segment(key)
                    if seg is None:
                        return None
                    fresh[key], reports[key] = seg, seg.report
            try:
                updated = merge.update(index, order, fresh, self._required)
            except LookupError:
                return None
            if updated is None:
                return None
            index = updated
        return _Held(index, tuple(reports[k] for k in order))

    def read_point(self, path: Path) -> tuple[str, tuple[str, ...]] | None:
        """A point's base and live segments (None when absent or unreadable)."""
        try:
            point = json.loads(path.read_text("utf-8"))
            if point["format"] != FORMAT_VERSION:
                return None
            return str(point["base"]), tuple(point["order"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def newest_held(self) -> _Held | None:
        """The index and reports of the newest point that loads (another content, to update
        from)."""
        for path in self.newest_points()[:KEEP_POINTS]:
            held = self._held(path)
            if held is not None:
                return held
        return None

    def _required(self, key: str) -> Segment:
        seg = self.segment(key)
        if seg is None:
            raise LookupError(key)
        return seg

    # ------------------------------------------------------------------ pruning

    def newest_points(self) -> list[Path]:
        try:
            found = [p for p in self.points.iterdir() if p.suffix == ".json"]
        except OSError:
            return []
        return sorted(found, key=_mtime, reverse=True)

    def prune(self, keep: str) -> None:
        """Remove all but the KEEP_POINTS newest points (and `keep`), the bases they do not
        start from, segments none of them needs, and the folders of older cache formats."""
        points = self.newest_points()
        kept = [p for p in points if p.stem == keep] + [p for p in points if p.stem != keep]
        kept = kept[:KEEP_POINTS]
        for old in points:
            if old not in kept:
                old.unlink(missing_ok=True)
        needed_bases: set[str] = set()
        needed_keys: set[str] = set()
        for path in kept:
            point = self.read_point(path)
            if point is None:
                continue
            needed_bases.add(point[0])
            needed_keys.update(point[1])
            try:  # a removed report's terms leave the statistics: its segment is needed
                meta = json.loads((self.bases / point[0] / "parts.json").read_text("utf-8"))
                needed_keys.update(meta["keys"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        now = time.time()
        for entry in _children(self.root):
            if entry.name not in ("segments", "bases", "points"):
                _remove(entry)  # an older cache format
        for entry in _children(self.bases):
            if entry.name not in needed_bases and (
                not entry.name.endswith(".tmp") or now - _mtime(entry) > STALE_SECONDS
            ):
                _remove(entry)
        for entry in _children(self.segments):
            key = entry.name.removesuffix(segment.SUFFIX)
            if key not in needed_keys and now - _mtime(entry) > STALE_SECONDS:
                _remove(entry)


def _facts(files: dict[str, bytes]) -> tuple[Fact, ...] | None:
    """The facts of `files` (None when facts.yaml has problems: a full open reports them)."""
    try:
        return tuple(facts_of(files.get("facts.yaml")))
    except ChangeRejected:
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _try(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except OSError as e:  # a read-only folder still answers, just without a cache
        log.warning("could not keep the index cache: %s", e)


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
