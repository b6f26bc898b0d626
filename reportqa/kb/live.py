"""The knowledge base a running bot serves, swapped whole when the folder changes.

`LiveKnowledge` holds the current Engine. A reload (after an admin change, `/reload`, or a
change the watcher notices: a `git pull`, a hand edit, the shell commands) builds a complete
new engine first and only then replaces the reference, so a question being answered sees the
old or the new knowledge base, never a mixture. A knowledge folder that does not load leaves
the old engine serving and reports the problems (file:line) instead.

With a versioned store (PostgreSQL, DATABASE_URL) the knowledge base is read from it, a change
is noticed by the number of the newest change (any worker's or command's), and a database that
cannot be reached leaves the last engine serving.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from reportqa.kb import layout, schema
from reportqa.kb.open import open_engine
from reportqa.kb.repository import Repository
from reportqa.models import ReportQAError
from reportqa.search import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    changed: bool  # a new engine is now serving
    problems: tuple[str, ...] = ()  # why the folder did not load (the old engine serves on)


def signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap fingerprint of the knowledge files (name, size, mtime): no file is read."""
    out = []
    for path in [*layout.report_files(folder), folder / "facts.yaml"]:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


class VersionedStore(Protocol):
    """A store that numbers its changes (reportqa.db.repository.PgRepository)."""

    def version(self) -> int: ...

    def versioned_snapshot(self) -> tuple[int, dict[str, bytes]]: ...


class LiveKnowledge:
    """The engine currently serving, and the means to replace it safely."""

    def __init__(
        self, folder: Path, engine: Engine | None = None, store: VersionedStore | None = None
    ) -> None:
        self.folder = folder
        self.store = store
        if store is None:
            try:
                Repository(folder).recover()  # finish or undo a change a crash left half done
            except OSError as e:  # a read-only folder: open_engine reads around a pending change
                log.warning("could not recover the knowledge folder: %s", e)
            self._signature: object = signature(folder)
            files = layout.knowledge_files(folder)
        else:
            version, files = store.versioned_snapshot()
            self._signature = version
        self._reports_digest = _reports_digest(files)
        if engine is None:
            engine = open_engine(folder, files=files) if store else open_engine(folder)
        self._engine = engine
        self._reload_lock = threading.Lock()
        self._db_down = False
        self.last_problems: tuple[str, ...] = ()

    @property
    def engine(self) -> Engine:
        """The current engine: take it once per question and use that one throughout."""
        return self._engine

    def _facts_only(self, files: dict[str, bytes]) -> Engine | None:
        """When only facts.yaml changed, the current index and tokenizer serve the new facts
        as they are: a new engine over them costs milliseconds instead of a rebuild."""
        if _reports_digest(files) != self._reports_digest:
            return None  # the digest is taken only when an engine is swapped in
        problems: list[schema.Problem] = []
        text = schema.read_text(self.folder / "facts.yaml", problems, files.get("facts.yaml", b""))
        facts = schema.parse_facts(text or "", str(self.folder / "facts.yaml"), problems)
        known = {r.report_id for r in self._engine.kb.reports}
        if problems or any(f.report_id not in known for f in facts):
            return None  # let the full load report the problems
        old = self._engine
        return Engine(replace(old.kb, facts=facts), old.index, old.tokenizer, old.gaz)

    def changed_on_disk(self) -> bool:
        """Whether the knowledge base changed since it was loaded (a cheap look)."""
        try:
            return self._look() != self._signature
        except ReportQAError as e:  # the database is out of reach
            self._database_down(e)
            return False

    def _look(self) -> object:
        """The knowledge base's signature, cheaply: the files' sizes and times, or the number
        of the store's newest change."""
        if self.store is None:
            return signature(self.folder)
        version = self.store.version()
        self._db_down = False
        return version

    def _database_down(self, e: Exception) -> None:
        if not self._db_down:  # said once, not every two seconds
            log.warning("database unreachable, the last knowledge base keeps serving: %s", e)
        self._db_down = True

    def _read(self) -> tuple[object, dict[str, bytes]]:
        """The knowledge base's signature and files, as one finished version."""
        if self.store is not None:
            return self.store.versioned_snapshot()
        sig = signature(self.folder)  # taken before the files: a change meanwhile is seen next
        repo = Repository(self.folder)
        with repo.locked():  # read a finished state, never half a change
            repo.recover()
            return sig, layout.knowledge_files(self.folder)

    def reload(self, force: bool = False) -> ReloadResult:
        """Build a new engine from the knowledge base and swap it in (if it changed)."""
        with self._reload_lock:
            try:
                if not force and self._look() == self._signature:
                    return ReloadResult(False)
                sig, files = self._read()
            except ReportQAError as e:  # a store out of reach: the last engine keeps serving
                self._database_down(e)
                self.last_problems = (str(e),)
                return ReloadResult(False, self.last_problems)
            try:
                engine = self._facts_only(files) or open_engine(
                    self.folder, files=files, previous=self._engine
                )
            except schema.KnowledgeError as e:
                self._signature = sig  # report a broken folder once, not at every check
                self.last_problems = tuple(str(p) for p in e.problems)
                log.error("knowledge base not reloaded: %s", e)
                return ReloadResult(False, self.last_problems)
            except (ReportQAError, OSError) as e:
                self._signature = sig
                self.last_problems = (str(e),)
                log.error("knowledge base not reloaded: %s", e)
                return ReloadResult(False, self.last_problems)
            except Exception as e:  # a fault of ours: the last engine keeps serving, said once
                self._signature = sig
                self.last_problems = (f"重新加载失败：{type(e).__name__}: {e}",)
                log.exception("knowledge base not reloaded")
                return ReloadResult(False, self.last_problems)
            self._signature = sig
            self._reports_digest = _reports_digest(files)
            self._engine = engine  # one reference assignment: readers see old or new
            self.last_problems = ()
            log.info(
                "knowledge base reloaded: %d reports, %d passages",
                len(engine.kb.reports),
                engine.kb.passage_count,
            )
            return ReloadResult(True)


def _reports_digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel, data in sorted(files.items()):
        if rel != "facts.yaml":
            h.update(rel.encode("utf-8") + b"\0" + data + b"\0")
    return h.hexdigest()
