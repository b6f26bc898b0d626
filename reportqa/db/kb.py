"""The knowledge base in PostgreSQL: a knowledge folder imported as one change, exported back.

Every file of the folder (reports/*.yaml, facts.yaml, sources/*) is kept as it is in `kb_files`,
so an export equals what was imported; the reports, passages and facts parsed from the files sit
beside them for queries. A change is one transaction: it takes an advisory lock (changes from
several workers never interleave), is checked as the folder would be after it (the checks of
`kb.validate`, with file and line), keeps the bytes it replaces (history, undo), records who did
what, and announces itself (`NOTIFY kb_changed`) to every worker listening.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import psycopg

from reportqa.db.schema import DatabaseError, require_current
from reportqa.kb import layout, schema, validate
from reportqa.kb.repository import sha as short_sha
from reportqa.models import KnowledgeBase, Report

CHANGE_LOCK = 0x72716B62  # pg_advisory_xact_lock key of knowledge-base changes ("rqkb")
CHANNEL = "kb_changed"
_SKIPPED = {".cache", ".history", ".lock"}


@dataclass(frozen=True)
class Imported:
    seq: int | None  # the change recorded (None: the database held this content already)
    files: int
    reports: int
    passages: int


def folder_files(folder: Path) -> dict[str, bytes]:
    """relative path -> bytes of every file of a knowledge folder (not its cache, history or
    lock, nor hidden files)."""
    if not folder.is_dir():
        raise DatabaseError(f"找不到知识库文件夹：{folder}")
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not _SKIPPED & set(rel.parts) and not rel.name.startswith("."):
            files[rel.as_posix()] = path.read_bytes()
    return files


def stored_files(conn: psycopg.Connection, knowledge_only: bool = False) -> dict[str, bytes]:
    """relative path -> bytes of every file the database holds (with `knowledge_only`, the
    reports, facts.yaml and the manifest: not the raw texts)."""
    where = (
        " WHERE rel LIKE 'reports/%%' OR rel IN ('facts.yaml', 'sources/manifest.yaml')"
        if knowledge_only
        else ""
    )
    rows = conn.execute(f"SELECT rel, data FROM kb_files{where} ORDER BY rel").fetchall()
    return {rel: bytes(data) for rel, data in rows}


def check(files: dict[str, bytes], where: Path) -> KnowledgeBase:
    """The knowledge base the files make (KnowledgeError with file:line problems if any)."""
    knowledge = {rel: data for rel, data in files.items() if layout.is_knowledge_file(rel, True)}
    kb, problems = validate.check(where, overlay=dict(knowledge), exact=True)
    if kb is None:
        raise schema.KnowledgeError(problems)
    return kb


def import_folder(conn: psycopg.Connection, folder: Path, actor: str) -> Imported:
    """Make the database hold exactly the files of `folder` (one change, checked first)."""
    require_current(conn)
    files = folder_files(folder)
    kb = check(files, folder)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK,))
        held = dict(conn.execute("SELECT rel, sha256 FROM kb_files").fetchall())
        writes: dict[str, bytes | None] = {rel: None for rel in held if rel not in files}
        writes.update((rel, data) for rel, data in files.items() if held.get(rel) != sha256(data))
        if not writes:
            return Imported(None, len(files), len(kb.reports), kb.passage_count)
        seq = apply_writes(conn, actor, "import", folder.name or str(folder), writes, kb)[0]
    return Imported(seq, len(files), len(kb.reports), kb.passage_count)


def apply_writes(
    conn: psycopg.Connection,
    actor: str,
    action: str,
    target: str,
    writes: dict[str, bytes | None],
    kb: KnowledgeBase,
    undoes: int | None = None,
) -> tuple[int, float, dict[str, dict[str, str | None]]]:
    """Store a checked change (inside the caller's transaction, which holds CHANGE_LOCK):
    its record, the bytes it replaces, the files (None: removed), the parsed tables of what it
    touched (`kb` is the knowledge base after it), and NOTIFY; its number, time and files."""
    rels = sorted(writes)
    before = {
        rel: bytes(data)
        for rel, data in conn.execute(
            "SELECT rel, data FROM kb_files WHERE rel = ANY(%s)", (rels,)
        ).fetchall()
    }
    files = {
        rel: {"before": short_sha(before.get(rel)), "after": short_sha(writes[rel])} for rel in rels
    }
    row = conn.execute(
        "INSERT INTO kb_changes (actor, action, target, files, undoes)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING seq, extract(epoch FROM at)",
        (actor, action, target, json.dumps(files, ensure_ascii=False), undoes),
    ).fetchone()
    assert row is not None
    seq = int(row[0])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO kb_file_versions (seq, rel, data) VALUES (%s, %s, %s)",
            [(seq, rel, data) for rel, data in before.items()],
        )
        cur.execute(
            "DELETE FROM kb_files WHERE rel = ANY(%s)",
            ([rel for rel in rels if writes[rel] is None],),
        )
        cur.executemany(
            "INSERT INTO kb_files (rel, data, sha256) VALUES (%s, %s, %s)"
            " ON CONFLICT (rel) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256",
            [(rel, data, sha256(data)) for rel, data in writes.items() if data is not None],
        )
    write_parsed(conn, kb, {rel for rel in rels if rel.startswith("reports/")})
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(seq)))
    return seq, float(row[1]), files


def export_folder(conn: psycopg.Connection, folder: Path) -> int:
    """Write every file the database holds into `folder` (absent or empty); the count."""
    require_current(conn)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise DatabaseError(f"导出目标必须是空文件夹或不存在：{folder}")
    files = stored_files(conn)
    check(files, folder)  # what is exported loads (it was checked when it was stored)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        layout.atomic_write(path, data)
    return len(files)


def _meta(r: Report) -> tuple[int | None, str, str]:
    return r.year, r.doc_type, r.source_file


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_parsed(conn: psycopg.Connection, kb: KnowledgeBase, reports: set[str] | None) -> None:
    """The reports, passages and facts tables for the knowledge base `kb` now holds: the
    report files `reports` (relative paths; None: all) made again, the facts all."""
    conn.execute("DELETE FROM kb_facts")
    if reports is None:
        conn.execute("DELETE FROM kb_reports")  # their passages go with them
        fresh = list(kb.reports)
    else:
        conn.execute("DELETE FROM kb_reports WHERE rel = ANY(%s)", (sorted(reports),))
        fresh = [r for r in kb.reports if f"reports/{r.report_id}.yaml" in reports]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO kb_reports (report_id, rel, title, agency, year, doc_type, source_file)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (r.report_id, f"reports/{r.report_id}.yaml", r.title, r.agency, *_meta(r))
                for r in fresh
            ],
        )
        cur.executemany(
            "INSERT INTO kb_passages (id, report_id, ord, section, text)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (p.id, r.report_id, n, list(p.section), p.text)
                for r in fresh
                for n, p in enumerate(r.passages)
            ],
        )
        cur.executemany(
            "INSERT INTO kb_facts (id, report_id, question, answer, alternatives, section)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (f.id, f.report_id, f.question, f.answer, list(f.alternatives), f.section)
                for f in kb.facts
            ],
        )
