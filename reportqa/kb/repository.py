"""Changes to the knowledge folder that never lose data.

Every change (add or replace a report, remove one, add or remove a fact, undo) goes through
`Repository.change()`, which under one file lock (so two admins, or a chat and the shell,
never lose each other's update):

1. computes the new file contents from the current ones (read under the lock);
2. validates the knowledge base as it would be, before anything is written;
3. records a history entry: the previous bytes of every file it will touch, and the hashes
   they will have, marked pending;
4. writes each file atomically (temporary file, fsync, rename, fsync the folder);
5. marks the entry done and appends a line to the audit log (time, actor, action, target,
   content hashes before and after).

A process killed anywhere in between leaves a pending entry; `recover()` (run before every
change, and whenever the knowledge base is opened) then finishes or rolls back that change, so
the knowledge base always equals the old or the new version. A write that fails (disk full, a
name the file system refuses) is rolled back at once and reported as `ChangeFailed`. The last
KEEP_VERSIONS entries are kept, so `undo()` works across restarts.

Readers take no lock: `snapshot()` returns the files of the last complete version. It recovers
a crashed change first when it can take the lock at once; while a change is being written (or
in a read-only folder) it reads around it, putting back the previous bytes that the pending
history entry holds, and it re-reads if a change began or ended while it was reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from reportqa.kb import layout, schema, validate
from reportqa.models import Fact, KnowledgeBase, ReportQAError

log = logging.getLogger(__name__)
HISTORY = ".history"
AUDIT = "audit.jsonl"
LOCK = ".lock"
KEEP_VERSIONS = 50
LOCK_TIMEOUT = 60.0
SNAPSHOT_TRIES = 50  # re-reads while changes keep landing, before waiting for the lock

Writes = dict[str, bytes | None]  # relative path -> new bytes (None: delete the file)
Checkpoint = Callable[[str], None]


class ChangeRejected(ReportQAError):
    """A change that would break the knowledge base; nothing was written."""


class KnowledgeBusy(ChangeRejected):
    """Another change held the lock for too long; nothing was written."""


class ChangeFailed(ChangeRejected):
    """Writing a change failed part way (an OSError); it was rolled back at once."""


@dataclass(frozen=True)
class Change:
    seq: int
    time: float
    actor: str
    action: str
    target: str
    files: dict[str, dict[str, str | None]]  # path -> {"before": sha|None, "after": sha|None}
    status: str = "done"  # pending | done | undone | rolled-back
    undoes: int | None = None  # for an undo: the change it undid

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.time))
        return f"#{self.seq} {when} {self.actor} {self.action} {self.target}"


class KnowledgeStore(Protocol):
    """Where the knowledge base is kept and changed: this folder (Repository) or PostgreSQL
    (reportqa.db.repository.PgRepository). `folder` is the local knowledge folder."""

    folder: Path

    def read(self, rel: str) -> bytes | None: ...

    def snapshot(self, manifest: bool = False) -> dict[str, bytes]: ...

    def facts(self) -> list[Fact]: ...

    def source_owners(self) -> dict[str, str]: ...

    def change(
        self, actor: str, action: str, target: str, compute: Callable[[Any], Writes]
    ) -> Change: ...

    def undo(self, actor: str) -> Change: ...

    def entries(self) -> list[Change]: ...

    def audit(self, limit: int = 20) -> list[dict[str, Any]]: ...

    def audit_page(self, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]: ...


def audit_record(entry: Change, outcome: str) -> dict[str, Any]:
    """A change as the audit log records it (and `history` lists it)."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(entry.time)),
        "seq": entry.seq,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": outcome,
        "files": entry.files,
    }


def newest_page(items: list[Any], page: int, per_page: int) -> list[Any]:
    """Page `page` (1 = the newest) of items kept oldest first, newest last."""
    end = len(items) - (page - 1) * per_page
    return items[max(0, end - per_page) : end] if end > 0 else []


def facts_of(data: bytes | None) -> list[Fact]:
    """The facts in facts.yaml's bytes (ChangeRejected when it has problems: fix it first)."""
    if data is None:
        return []
    problems: list[schema.Problem] = []
    facts = schema.parse_facts(data.decode("utf-8", "replace"), "facts.yaml", problems)
    if problems:
        raise ChangeRejected("facts.yaml 有错误，请先修正：" + "; ".join(map(str, problems)))
    return list(facts)


def undoable(entries: list[Change]) -> Change:
    """The latest change that is done and not undone yet (ChangeRejected when none is)."""
    undone = {e.undoes for e in entries if e.action == "undo" and e.status == "done"}
    done = [e for e in entries if e.status == "done" and e.action != "undo" and e.seq not in undone]
    if not done:
        raise ChangeRejected("没有可以撤销的改动")
    return done[-1]


def sha(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest()[:16] if data is not None else None


def _no_checkpoint(step: str) -> None:
    return None


class Repository:
    """The knowledge folder as a store of changes (see the module docstring)."""

    def __init__(self, folder: Path, checkpoint: Checkpoint = _no_checkpoint) -> None:
        self.folder = folder
        self.history = folder / HISTORY
        self._lock = FileLock(str(folder / LOCK), timeout=LOCK_TIMEOUT)
        self._checkpoint = checkpoint  # tests inject faults at named steps

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as e:
            raise KnowledgeBusy(
                f"知识库正忙（另一个改动正在进行），请稍后再试（等待了 {LOCK_TIMEOUT:.0f} 秒）"
            ) from e
        try:
            yield
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ reading

    def read(self, rel: str) -> bytes | None:
        path = self.folder / rel
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def snapshot(self, manifest: bool = False) -> dict[str, bytes]:
        """The knowledge files (reports/*.yaml, facts.yaml, and sources/manifest.yaml with
        `manifest`) as the last complete version has them: never half a change."""
        if self._pending():
            self._try_recover()
        for _ in range(SNAPSHOT_TRIES):
            before = self.entries()
            files = layout.knowledge_files(self.folder, manifest)
            after = self.entries()
            if [(e.seq, e.status) for e in before] == [(e.seq, e.status) for e in after]:
                return self._without_pending(files, after, manifest)
            time.sleep(0.01)
        with self.locked():  # changes keep landing: read in a quiet moment
            self._recover_locked()
            return layout.knowledge_files(self.folder, manifest)

    def _without_pending(
        self, files: dict[str, bytes], entries: list[Change], manifest: bool
    ) -> dict[str, bytes]:
        """`files` with the previous bytes of every file a pending change touches."""
        out = dict(files)
        for entry in entries:
            if entry.status != "pending":
                continue
            for rel, hashes in entry.files.items():
                if not layout.is_knowledge_file(rel, manifest):
                    continue
                if hashes["before"] is None:
                    out.pop(rel, None)
                else:
                    out[rel] = (self._entry_dir(entry.seq) / "files" / rel).read_bytes()
        return dict(sorted(out.items()))

    def _try_recover(self) -> None:
        """Recover a crashed change if the lock is free right now (a writer holding it is
        alive, and a read-only folder cannot be repaired: the reader reads around both)."""
        try:
            self._lock.acquire(timeout=0)
        except (Timeout, OSError):
            return
        try:
            self._recover_locked()
        except OSError as e:
            log.warning("could not recover the knowledge base: %s", e)
        finally:
            self._lock.release()

    def facts(self) -> list[Fact]:
        return facts_of(self.snapshot().get("facts.yaml"))

    def source_owners(self) -> dict[str, str]:
        """raw file name -> the report whose raw file it is (the first report that names it)."""
        owners: dict[str, str] = {}
        for path in layout.report_files(self.folder):
            report = validate.read_report(path)
            if report is not None and report.source_file:
                owners.setdefault(report.source_file, report.report_id)
        return owners

    def entries(self) -> list[Change]:
        """History entries, oldest first."""
        if not self.history.is_dir():
            return []
        out = []
        for d in sorted(self.history.iterdir()):
            manifest = d / "manifest.json"
            if d.is_dir() and manifest.exists():
                try:
                    out.append(Change(**json.loads(manifest.read_text(encoding="utf-8"))))
                except (ValueError, TypeError, OSError) as e:
                    log.warning("ignoring a damaged history entry %s: %s", d.name, e)
        return out

    def audit(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last `limit` audit records, newest last."""
        return self._audit_records()[-limit:]

    def audit_page(self, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        """Page `page` (1 = the newest) of the audit records, newest last, and how many
        records there are in all."""
        records = self._audit_records()
        return newest_page(records, page, per_page), len(records)

    def _audit_records(self) -> list[dict[str, Any]]:
        path = self.history / AUDIT
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    # ------------------------------------------------------------------ changing

    def change(
        self, actor: str, action: str, target: str, compute: Callable[[Repository], Writes]
    ) -> Change:
        """Apply the writes `compute` returns (it runs under the lock, so it sees the latest
        files); ChangeRejected if the result would not load, and then nothing is written."""
        with self.locked():
            self._recover_locked()
            writes = compute(self)
            if not writes:
                raise ChangeRejected("没有需要保存的改动")
            self.validate_with(writes)
            return self._apply(actor, action, target, writes)

    def validate_with(self, writes: Writes) -> KnowledgeBase:
        """The knowledge base as it would be after `writes`; ChangeRejected if it has problems."""
        kb, problems = validate.check(self.folder, overlay=writes)
        if kb is None:
            shown = "\n".join(str(p) for p in problems[:10])
            raise ChangeRejected(f"改动未保存，因为会使知识库出错：\n{shown}")
        return kb

    def undo(self, actor: str) -> Change:
        """Restore the files of the latest change not yet undone."""
        with self.locked():
            self._recover_locked()
            last = undoable(self.entries())
            entry_dir = self._entry_dir(last.seq)
            writes: Writes = {}
            for rel, hashes in last.files.items():
                if hashes["before"] is None:
                    writes[rel] = None
                else:
                    writes[rel] = (entry_dir / "files" / rel).read_bytes()
            self.validate_with(writes)
            target = f"#{last.seq} {last.action} {last.target}"
            undo = self._apply(actor, "undo", target, writes, undoes=last.seq)
            self._set_status(last.seq, "undone")  # for people reading the history
            return undo

    def recover(self) -> list[str]:
        """Finish or roll back a change a killed process left half done; what was done."""
        if not self._pending() and not self._temp_files():
            return []
        with self.locked():
            return self._recover_locked()

    # ------------------------------------------------------------------ internals

    def _pending(self) -> list[Change]:
        return [e for e in self.entries() if e.status == "pending"]

    def _temp_files(self) -> list[Path]:
        """Temporary files a writer killed before its rename left behind."""
        folders = [self.folder, self.folder / "reports", self.folder / "sources"]
        if self.history.is_dir():
            folders += [self.history, *(d for d in self.history.iterdir() if d.is_dir())]
        return [p for d in folders if d.is_dir() for p in d.glob(".*.tmp")]

    def _recover_locked(self) -> list[str]:
        for tmp in self._temp_files():  # every writer holds the lock: these are orphans
            tmp.unlink(missing_ok=True)
        notes = []
        for entry in self._pending():
            entry_dir = self._entry_dir(entry.seq)
            current = {rel: sha(self.read(rel)) for rel in entry.files}
            if all(current[rel] == h["after"] for rel, h in entry.files.items()):
                self._set_status(entry.seq, "done")
                self._audit(entry, "done")
                notes.append(f"completed {entry.describe()}")
                continue
            for rel, hashes in entry.files.items():  # roll back to the old version
                if current[rel] == hashes["before"]:
                    continue
                if hashes["before"] is None:
                    (self.folder / rel).unlink(missing_ok=True)
                else:
                    layout.atomic_write(self.folder / rel, (entry_dir / "files" / rel).read_bytes())
            self._set_status(entry.seq, "rolled-back")
            self._audit(entry, "rolled-back")
            notes.append(f"rolled back {entry.describe()}")
        for note in notes:
            log.warning("knowledge base recovery: %s", note)
        return notes

    def _apply(
        self, actor: str, action: str, target: str, writes: Writes, undoes: int | None = None
    ) -> Change:
        self._checkpoint("before-history")
        seq = max((e.seq for e in self.entries()), default=0) + 1
        entry_dir = self._entry_dir(seq)
        try:
            before = {rel: self.read(rel) for rel in writes}
            files = {
                rel: {"before": sha(before[rel]), "after": sha(data)}
                for rel, data in writes.items()
            }
            entry = Change(seq, time.time(), actor, action, target, files, "pending", undoes)
            for rel, data in before.items():
                if data is not None:
                    target_path = entry_dir / "files" / rel
                    target_path.parent.mkdir(parents=True, exist_ok=True)
                    target_path.write_bytes(data)
            self._write_manifest(entry)
        except OSError as e:  # nothing was changed yet: drop the half-written entry
            shutil.rmtree(entry_dir, ignore_errors=True)
            reason = e.strerror or type(e).__name__
            raise ChangeFailed(f"保存失败（{reason}），知识库没有任何改动") from e
        self._checkpoint("after-history")
        try:
            for rel, data in writes.items():
                path = self.folder / rel
                if data is None:
                    path.unlink(missing_ok=True)
                    _fsync_dir(path.parent)
                else:
                    layout.atomic_write(path, data, checkpoint=self._checkpoint)
                self._checkpoint(f"after-write:{rel}")
        except OSError as e:  # disk full, a name the file system refuses: undo it now
            log.error("writing change #%d failed (%s); rolling it back", seq, e)
            self._recover_locked()
            reason = e.strerror or type(e).__name__
            raise ChangeFailed(f"保存失败（{reason}），改动已撤回，知识库保持原样") from e
        done = Change(seq, entry.time, actor, action, target, files, "done", undoes)
        self._audit(done, "done")  # before marking it done: a crash here is redone, not lost
        self._checkpoint("before-done")
        self._write_manifest(done)
        self._checkpoint("after-done")
        self._prune()
        return done

    def _entry_dir(self, seq: int) -> Path:
        return self.history / f"{seq:08d}"

    def _write_manifest(self, entry: Change) -> None:
        data = json.dumps(entry.__dict__, ensure_ascii=False, indent=1).encode("utf-8")
        layout.atomic_write(self._entry_dir(entry.seq) / "manifest.json", data)

    def _set_status(self, seq: int, status: str) -> None:
        entry = next(e for e in self.entries() if e.seq == seq)
        self._write_manifest(Change(**{**entry.__dict__, "status": status}))

    def _audit(self, entry: Change, outcome: str) -> None:
        record = audit_record(entry, outcome)
        self.history.mkdir(parents=True, exist_ok=True)
        with (self.history / AUDIT).open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _prune(self) -> None:
        entries = self.entries()
        for old in entries[:-KEEP_VERSIONS]:
            shutil.rmtree(self._entry_dir(old.seq), ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def next_fact_id(facts: list[Fact]) -> str:
    numbers = [int(f.id[1:]) for f in facts if f.id[:1] == "f" and f.id[1:].isdigit()]
    return f"f{max(numbers, default=0) + 1}"
