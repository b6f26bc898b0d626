"""Knowledge changes admins make: add or replace a report, remove one, add or remove a curated
fact, rebuild everything from the raw texts.

A raw file is extracted and ingested in memory first (`prepare_*`), so an admin can look at a
preview before anything is stored. Saving goes through `Repository.change()`: under the lock,
validated, with history and audit. The raw file is kept in `sources/` and the metadata flags
given for it in `sources/manifest.yaml`, so `rebuild` re-creates every report from the raw
texts with one command. A file that fails leaves the knowledge folder as it was.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from reportqa import store
from reportqa.extract import ExtractError, extract_text
from reportqa.ingest import IngestError, Overrides, ingest_text
from reportqa.models import Fact, Report, ReportQAError
from reportqa.repository import Change, ChangeRejected, Repository, Writes, next_fact_id

MANIFEST = "manifest.yaml"
SOURCE_SUFFIXES = (".txt", ".text", ".md", ".docx", ".html", ".htm", ".pdf")
YAML_SUFFIXES = (".yaml", ".yml")


class IngestFailed(ReportQAError):
    """A raw file could not be turned into a report; the message names the file."""


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
    path: Path | None = None  # the YAML written (None on a dry run)
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
    """A file name with no path, no control characters and no leading dot (../x, a\\b, …)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-\u3400-\u9fff]+", "_", base).lstrip("._")[:100]
    return base if base and "." in base else (base + Path(default).suffix if base else default)


def prepare_file(path: Path, folder: Path, overrides: Overrides | None = None) -> Prepared:
    """Extract and ingest a raw report file (nothing is written)."""
    if overrides is None or not any(vars(overrides).values()):
        # re-ingesting a known file without flags keeps the flags it was ingested with
        overrides = _overrides(read_manifest(folder).get(path.name, {}))
    try:
        raw = path.read_bytes() if path.stat().st_size <= 20 * 1024 * 1024 else None
        text = extract_text(path)
        result = ingest_text(text, path.name, overrides)
    except (ExtractError, IngestError) as e:
        raise IngestFailed(str(e)) from e
    except OSError as e:
        raise IngestFailed(f"{path.name}: 无法读取文件（{e.strerror}）") from e
    _check_loads(result.report, path.name)
    flags = {k: v for k, v in vars(overrides).items() if v is not None}
    return Prepared(result.report, result.needs_flag, raw, path.name, flags)


def prepare_upload(
    data: bytes, name: str, folder: Path, overrides: Overrides | None = None
) -> Prepared:
    """A report from uploaded bytes: a raw file of any supported kind, or report YAML."""
    name = safe_name(name)
    suffix = Path(name).suffix.lower()
    if suffix in YAML_SUFFIXES:
        return _prepare_yaml(data, name)
    if suffix not in SOURCE_SUFFIXES:
        raise IngestFailed(
            f"{name}: 不支持的文件类型。请发送 .txt、.docx、.html、.pdf 或知识库格式的 .yaml 文件"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return prepare_file(path, folder, overrides)


def _prepare_yaml(data: bytes, name: str) -> Prepared:
    problems: list[store.Problem] = []
    text = store.read_text(Path(name), problems, data)
    report = store.parse_report(text, name, problems) if text is not None else None
    if report is None:
        shown = "\n".join(f"第 {p.line} 行：{p.message}" for p in problems[:8])
        raise IngestFailed(f"{name}: 不是有效的知识库报告 YAML：\n{shown}")
    return Prepared(report)


def _check_loads(report: Report, name: str) -> None:
    """The report as YAML loads back (a missing agency is asked for in the preview)."""
    problems: list[store.Problem] = []
    checked = replace(report, agency=report.agency or "待补充")
    if store.parse_report(store.dump_report(checked), name, problems) is None:
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


def save_report(repo: Repository, prepared: Prepared, actor: str) -> Change:
    """Add or replace a report (and keep its raw file and flags)."""
    report = prepared.report

    def compute(r: Repository) -> Writes:
        writes: Writes = {f"reports/{report.report_id}.yaml": store.dump_report(report).encode()}
        if prepared.raw is not None and prepared.source_name:
            writes[f"sources/{prepared.source_name}"] = prepared.raw
            manifest = read_manifest(r.folder)
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


def remove_report(repo: Repository, report_id: str, actor: str) -> Change:
    """Remove a report, its raw file and flags, and the curated facts that cite it."""

    def compute(r: Repository) -> Writes:
        rel = f"reports/{report_id}.yaml"
        data = r.read(rel)
        if data is None:
            raise ChangeRejected(f"知识库中没有报告 {report_id}")
        problems: list[store.Problem] = []
        report = store.parse_report(data.decode("utf-8", "replace"), rel, problems)
        writes: Writes = {rel: None}
        if report is not None and report.source_file == safe_name(report.source_file):
            source = f"sources/{report.source_file}"  # a plain name: never outside sources/
            if r.read(source) is not None:
                writes[source] = None
            manifest = read_manifest(r.folder)
            if manifest.pop(report.source_file, None) is not None:
                writes[f"sources/{MANIFEST}"] = _dump_manifest(manifest)
        facts = r.facts()
        kept = [f for f in facts if f.report_id != report_id]
        if len(kept) != len(facts):
            writes["facts.yaml"] = store.dump_facts(kept).encode()
        return writes

    return repo.change(actor, "remove-report", report_id, compute)


def add_fact(
    repo: Repository,
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

    def compute(r: Repository) -> Writes:
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
        return {"facts.yaml": store.dump_facts([*facts, fact]).encode()}

    change = repo.change(actor, "add-fact", question[:40], compute)
    return made[-1], change


def remove_fact(repo: Repository, fact_id: str, actor: str) -> Change:
    def compute(r: Repository) -> Writes:
        facts = r.facts()
        kept = [f for f in facts if f.id != fact_id]
        if len(kept) == len(facts):
            raise ChangeRejected(f"没有编号为 {fact_id} 的事实")
        return {"facts.yaml": store.dump_facts(kept).encode()}

    return repo.change(actor, "remove-fact", fact_id, compute)


def ingest_file(
    path: Path,
    folder: Path,
    overrides: Overrides | None = None,
    dry_run: bool = False,
    actor: str = "shell",
) -> Outcome:
    """Ingest one raw report file into the knowledge folder (or only check it: dry_run)."""
    prepared = prepare_file(path, folder, overrides)
    target = folder / "reports" / f"{prepared.report.report_id}.yaml"
    replaced = target.exists()
    if not dry_run:
        try:
            save_report(Repository(folder), prepared, actor)
        except ChangeRejected as e:
            if "无需保存" not in str(e):
                raise IngestFailed(f"{path.name}: {e}") from e
    return Outcome(prepared.report, prepared.needs_flag, None if dry_run else target, replaced)


def rebuild(folder: Path, actor: str = "shell") -> list[Outcome]:
    """Re-ingest every raw file in `sources/` with the flags recorded for it (one change)."""
    manifest = read_manifest(folder)
    prepared = []
    for path in sorted((folder / "sources").iterdir()):
        if path.name == MANIFEST or path.name.startswith(".") or not path.is_file():
            continue
        flags = manifest.get(path.name, {})
        prepared.append(prepare_file(path, folder, _overrides(flags)))

    def compute(r: Repository) -> Writes:
        writes: Writes = {}
        for p in prepared:
            rel = f"reports/{p.report.report_id}.yaml"
            data = store.dump_report(p.report).encode()
            if r.read(rel) != data:
                writes[rel] = data
        return writes

    try:
        Repository(folder).change(actor, "rebuild", f"{len(prepared)} reports", compute)
    except ChangeRejected as e:
        if "没有需要保存的改动" not in str(e):
            raise IngestFailed(str(e)) from e
    return [
        Outcome(p.report, p.needs_flag, folder / "reports" / f"{p.report.report_id}.yaml")
        for p in prepared
    ]


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "sources" / MANIFEST
    if not path.exists():
        return {}
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise IngestFailed(f"{path}: 无法读取（{e}），请修正或删除该文件") from e
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {str(k): dict(v or {}) for k, v in files.items()} if isinstance(files, dict) else {}


def _dump_manifest(manifest: dict[str, dict[str, Any]]) -> bytes:
    note = "# Metadata flags given when each raw file was ingested (used by `bot.py rebuild`).\n"
    return (note + store.dump_yaml({"files": dict(sorted(manifest.items()))})).encode()


def _overrides(flags: dict[str, Any]) -> Overrides:
    known = set(vars(Overrides()))
    return Overrides(**{k: v for k, v in flags.items() if k in known})
