"""Knowledge changes admins make: add or replace a report, remove one, add or remove a curated
fact, rebuild everything from the raw texts.

A raw file is extracted and ingested in memory first (`prepare_*`), so an admin can look at a
preview before anything is stored. Saving goes through `Repository.change()`: under the lock,
validated, with history and audit. The raw file is kept in `sources/` and the metadata flags
given for it in `sources/manifest.yaml`, so `rebuild` re-creates every report from the raw
texts with one command. A file that fails leaves the knowledge folder as it was.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from reportqa.extract import ExtractError, check_length, extract_text, read_limited
from reportqa.ingest import MAX_PASSAGES, IngestFailed, Overrides, ingest_text
from reportqa.kb import schema
from reportqa.kb.repository import (
    Change,
    ChangeRejected,
    KnowledgeStore,
    Repository,
    Writes,
    next_fact_id,
)
from reportqa.models import Fact, Report
from reportqa.places import gazetteer
from reportqa.sandbox import Sandbox

MANIFEST = schema.MANIFEST
SOURCE_SUFFIXES = (".txt", ".text", ".md", ".docx", ".html", ".htm", ".pdf")
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Prepared:
    """A report ready to be saved, with what is needed to save and explain it."""

    report: Report
    needs_flag: list[str] = field(default_factory=list)
    raw: bytes | None = None  # the raw file (kept in sources/), None for a YAML upload
    source_name: str = ""
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    report: Report
    needs_flag: list[str] = field(default_factory=list)
    replaced: bool = False


@dataclass(frozen=True)
class Diff:
    added: int
    removed: int
    changed: int

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


# ---------------------------------------------------------------- preparing


def safe_name(name: str, default: str = "upload.txt") -> str:
    """A file name with no path, no control characters, no leading dot (../x, a\\b, …),
    bounded in bytes (a long name keeps its start and suffix and gains a hash of the whole, so
    two long names stay distinct) and never the folder's own manifest.yaml."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-\u3400-\u9fff]+", "_", base).lstrip("._")
    if not base:
        return default
    if "." not in base:
        base += Path(default).suffix
    if len(base.encode("utf-8")) > schema.MAX_NAME_BYTES:
        stem, suffix = _split_suffix(base)
        digest = hashlib.sha1(base.encode("utf-8")).hexdigest()[:10]
        budget = schema.MAX_NAME_BYTES - len(suffix.encode("utf-8")) - len(digest) - 1
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        base = f"{stem}-{digest}{suffix}"
    if base.lower() == MANIFEST:
        base = f"file-{base}"
    return base


def source_name(name: str) -> str:
    """The name a raw file is kept under in sources/: its own name when that can be one, the
    safe_name() of it otherwise."""
    return name if schema.bad_source_name(name) is None else safe_name(name)


def _split_suffix(name: str) -> tuple[str, str]:
    suffix = Path(name).suffix
    if not suffix or len(suffix.encode("utf-8")) > 16:
        return name, ""
    return name[: -len(suffix)], suffix


def warm_up() -> None:
    """Load what prepare_bytes needs (this module, the gazetteer): a Sandbox's first job, so
    the first upload does not pay for it."""
    gazetteer()


def prepare_bytes(data: bytes, name: str, overrides: Overrides | None = None) -> Prepared:
    """Extract and ingest a raw file's bytes, or read report YAML (nothing is written); `name`
    is the source name already. The costly, untrusted part: run it in a Sandbox."""
    if Path(name).suffix.lower() in YAML_SUFFIXES:
        return _prepare_yaml(data, name)
    overrides = overrides or Overrides()
    try:
        result = ingest_text(extract_text(data, name), name, overrides)
    except ExtractError as e:
        raise IngestFailed(str(e)) from e
    _check_loads(result.report, name)
    flags = {k: v for k, v in vars(overrides).items() if v is not None}
    return Prepared(result.report, result.needs_flag, data, name, flags)


def _prepare(
    data: bytes,
    name: str,
    where: Path | KnowledgeStore,
    overrides: Overrides | None,
    sandbox: Sandbox | None,
) -> Prepared:
    """`where` holds the knowledge base (a folder, or a store) whose manifest has the flags."""
    if overrides is None or not any(vars(overrides).values()):
        # re-ingesting a known file without flags keeps the flags it was ingested with
        manifest = read_manifest(where) if isinstance(where, Path) else manifest_of(where)
        overrides = _overrides(manifest.get(name, {}))
    if sandbox is None:
        return prepare_bytes(data, name, overrides)
    return sandbox.run(prepare_bytes, data, name, overrides)


def prepare_file(
    path: Path,
    folder: Path | KnowledgeStore,
    overrides: Overrides | None = None,
    sandbox: Sandbox | None = None,
) -> Prepared:
    """Extract and ingest a raw report file, or read a report YAML file (nothing is
    written); with a `sandbox`, under its time and memory limits."""
    name = source_name(path.name)
    try:
        data = read_limited(path, path.name)
    except ExtractError as e:
        raise IngestFailed(str(e)) from e
    return _prepare(data, name, folder, overrides, sandbox)


def prepare_upload(
    data: bytes,
    name: str,
    folder: Path | KnowledgeStore,
    overrides: Overrides | None = None,
    sandbox: Sandbox | None = None,
) -> Prepared:
    """A report from uploaded bytes: a raw file of any supported kind, or report YAML."""
    name = safe_name(name)
    suffix = Path(name).suffix.lower()
    if suffix not in SOURCE_SUFFIXES + YAML_SUFFIXES:
        raise IngestFailed(
            f"{name}: 不支持的文件类型。请发送 .txt、.docx、.html、.pdf 或知识库格式的 .yaml 文件"
        )
    return _prepare(data, name, folder, overrides, sandbox)


def _prepare_yaml(data: bytes, name: str) -> Prepared:
    problems: list[schema.Problem] = []
    text = schema.read_text(Path(name), problems, data)
    report = schema.parse_report(text, name, problems) if text is not None else None
    if report is None:
        shown = "\n".join(f"第 {p.line} 行：{p.message}" for p in problems[:8])
        raise IngestFailed(f"{name}: 不是有效的知识库报告 YAML：\n{shown}")
    if len(report.passages) > MAX_PASSAGES:
        raise IngestFailed(f"{name}: 超过 {MAX_PASSAGES} 段，不像一份报告；请拆分后再导入")
    try:
        check_length("".join(p.text for p in report.passages), name)
    except ExtractError as e:
        raise IngestFailed(str(e)) from e
    return Prepared(report)


def _check_loads(report: Report, name: str) -> None:
    """The report as YAML loads back."""
    problems: list[schema.Problem] = []
    if schema.parse_report(schema.dump_report(report), name, problems) is None:
        raise IngestFailed(f"{name}: " + "; ".join(p.message for p in problems))


def diff(old: Report | None, new: Report) -> Diff:
    """Passages added, removed and changed (same section, other text) from old to new."""
    if old is None:
        return Diff(len(new.passages), 0, 0)
    old_ids = {p.id for p in old.passages}
    new_ids = {p.id for p in new.passages}
    gone = [p for p in old.passages if p.id not in new_ids]
    came = [p for p in new.passages if p.id not in old_ids]
    gone_sections = [p.section for p in gone]
    changed = 0
    for p in came:
        if p.section in gone_sections:
            gone_sections.remove(p.section)
            changed += 1
    return Diff(len(came) - changed, len(gone) - changed, changed)


# ---------------------------------------------------------------- saving


def save_report(repo: KnowledgeStore, prepared: Prepared, actor: str) -> Change:
    """Add or replace a report (and keep its raw file and flags)."""
    report = prepared.report

    def compute(r: KnowledgeStore) -> Writes:
        writes: Writes = {f"reports/{report.report_id}.yaml": schema.dump_report(report).encode()}
        if prepared.raw is not None and prepared.source_name:
            writes[f"sources/{prepared.source_name}"] = prepared.raw
            manifest = manifest_of(r)
            if manifest.get(prepared.source_name, {}) != prepared.flags:
                if prepared.flags:
                    manifest[prepared.source_name] = prepared.flags
                else:
                    manifest.pop(prepared.source_name, None)
                writes[f"sources/{MANIFEST}"] = _dump_manifest(manifest)
        return {rel: data for rel, data in writes.items() if r.read(rel) != data}

    try:
        return repo.change(actor, "add-report", report.report_id, compute)
    except ChangeRejected as e:
        if "没有需要保存的改动" in str(e):
            raise ChangeRejected(f"{report.report_id}: 与知识库中的版本完全相同，无需保存") from e
        raise


def remove_report(repo: KnowledgeStore, report_id: str, actor: str) -> Change:
    """Remove a report, its raw file and flags, and the curated facts that cite it."""

    def compute(r: KnowledgeStore) -> Writes:
        rel = f"reports/{report_id}.yaml"
        data = r.read(rel)
        if data is None:
            raise ChangeRejected(f"知识库中没有报告 {report_id}")
        problems: list[schema.Problem] = []
        report = schema.parse_report(data.decode("utf-8", "replace"), rel, problems)
        writes: Writes = {rel: None}
        owned = report.source_file if report is not None else ""
        if owned and r.source_owners().get(owned, report_id) != report_id:
            owned = ""  # another report's raw file (an old folder may hold such a claim)
        if owned and schema.bad_source_name(owned) is None:
            source = f"sources/{owned}"  # a plain name: never outside sources/
            if r.read(source) is not None:
                writes[source] = None
            manifest = manifest_of(r)
            if manifest.pop(owned, None) is not None:
                writes[f"sources/{MANIFEST}"] = _dump_manifest(manifest)
        facts = r.facts()
        kept = [f for f in facts if f.report_id != report_id]
        if len(kept) != len(facts):
            writes["facts.yaml"] = schema.dump_facts(kept).encode()
        return writes

    return repo.change(actor, "remove-report", report_id, compute)


def add_fact(
    repo: KnowledgeStore,
    question: str,
    answer: str,
    report_id: str,
    actor: str,
    alternatives: tuple[str, ...] = (),
    section: str = "",
) -> tuple[Fact, Change]:
    """Add a curated fact; its id is the next free f<N>."""
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ChangeRejected("问题和答案都不能为空")
    made: list[Fact] = []

    def compute(r: KnowledgeStore) -> Writes:
        facts = r.facts()
        fact = Fact(
            next_fact_id(facts),
            question,
            answer,
            report_id.strip(),
            tuple(a.strip() for a in alternatives if a.strip()),
            section.strip(),
        )
        made.append(fact)
        return {"facts.yaml": schema.dump_facts([*facts, fact]).encode()}

    change = repo.change(actor, "add-fact", question[:40], compute)
    return made[-1], change


def remove_fact(repo: KnowledgeStore, fact_id: str, actor: str) -> Change:
    def compute(r: KnowledgeStore) -> Writes:
        facts = r.facts()
        kept = [f for f in facts if f.id != fact_id]
        if len(kept) == len(facts):
            raise ChangeRejected(f"没有编号为 {fact_id} 的事实")
        return {"facts.yaml": schema.dump_facts(kept).encode()}

    return repo.change(actor, "remove-fact", fact_id, compute)


def ingest_file(
    path: Path,
    folder: Path,
    overrides: Overrides | None = None,
    dry_run: bool = False,
    actor: str = "shell",
    sandbox: Sandbox | None = None,
    repo: KnowledgeStore | None = None,
) -> Outcome:
    """Ingest one raw report file into the knowledge base (or only check it: dry_run); it is
    kept in `repo` (default: the knowledge folder itself)."""
    repo = repo or Repository(folder)
    prepared = prepare_file(path, repo, overrides, sandbox)
    replaced = repo.read(f"reports/{prepared.report.report_id}.yaml") is not None
    if not dry_run:
        try:
            save_report(repo, prepared, actor)
        except ChangeRejected as e:
            if "无需保存" not in str(e):
                raise IngestFailed(f"{path.name}: {e}") from e
    return Outcome(prepared.report, prepared.needs_flag, replaced)


def rebuild(folder: Path, actor: str = "shell", sandbox: Sandbox | None = None) -> list[Outcome]:
    """Re-ingest every raw file in `sources/` with the flags recorded for it (one change)."""
    manifest = read_manifest(folder)
    prepared = []
    for path in sorted((folder / "sources").iterdir()):
        if path.name == MANIFEST or path.name.startswith(".") or not path.is_file():
            continue
        flags = manifest.get(path.name, {})
        prepared.append(prepare_file(path, folder, _overrides(flags), sandbox))

    def compute(r: KnowledgeStore) -> Writes:
        writes: Writes = {}
        for p in prepared:
            rel = f"reports/{p.report.report_id}.yaml"
            data = schema.dump_report(p.report).encode()
            if r.read(rel) != data:
                writes[rel] = data
        return writes

    try:
        Repository(folder).change(actor, "rebuild", f"{len(prepared)} reports", compute)
    except ChangeRejected as e:
        if "没有需要保存的改动" not in str(e):
            raise IngestFailed(str(e)) from e
    return [Outcome(p.report, p.needs_flag) for p in prepared]


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The flags each raw file was ingested with (IngestFailed if the manifest is broken)."""
    path = folder / "sources" / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise IngestFailed(f"{path}: 无法读取（{e.strerror}），请修正或删除该文件") from e
    return _parse_manifest(path, data)


def manifest_of(r: KnowledgeStore) -> dict[str, dict[str, Any]]:
    """The manifest as the store holding the knowledge base has it."""
    data = r.read(f"sources/{MANIFEST}")
    return {} if data is None else _parse_manifest(r.folder / "sources" / MANIFEST, data)


def _parse_manifest(path: Path, data: bytes) -> dict[str, dict[str, Any]]:
    problems: list[schema.Problem] = []
    text = schema.read_text(path, problems, data)
    manifest = schema.parse_manifest(text, str(path), problems) if text is not None else {}
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        raise IngestFailed(f"{path}: 有错误（{shown}），请修正或删除该文件")
    return manifest


def _dump_manifest(manifest: dict[str, dict[str, Any]]) -> bytes:
    note = "# Metadata flags given when each raw file was ingested (used by `bot.py rebuild`).\n"
    return (note + schema.dump_yaml({"files": dict(sorted(manifest.items()))})).encode()


def _overrides(flags: dict[str, Any]) -> Overrides:
    known = set(vars(Overrides()))
    return Overrides(**{k: v for k, v in flags.items() if k in known})
