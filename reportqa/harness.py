"""The generalisation harness: how the engine does on reports nobody tuned it for.

`run()` copies a knowledge folder (the bundled one) into a temporary folder, ingests every raw
report of another folder into it with no flags, as a new user would, and then measures three
things: what ingest did with each file (ingested, ingested but needing a flag, refused and why),
how many detected metadata fields equal an index of the true values (INDEX.tsv: file, agency,
year, title, doc_type, script; a trailing "?" marks an inferred value and is ignored), and the
gold questions' hit@1 / hit@3 / answer accuracy per style. The original folders are never
written.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from reportqa.evaluate import Report as QualityReport
from reportqa.evaluate import evaluate, load_gold
from reportqa.kb import changes
from reportqa.kb.open import open_engine
from reportqa.kb.repository import Repository
from reportqa.models import Report, ReportQAError
from reportqa.normalize import squeeze
from reportqa.sandbox import Sandbox

FIELDS = ("agency", "year", "title", "doc_type", "script")
RAW_SUFFIXES = changes.SOURCE_SUFFIXES


@dataclass
class Ingested:
    """What ingest did with one file."""

    name: str
    report: Report | None = None
    needs_flag: list[str] = field(default_factory=list)
    refused: str = ""  # the reason, when refused


@dataclass
class Outcome:
    files: list[Ingested]
    metadata: dict[str, tuple[int, int]]  # field -> (right, compared)
    mismatches: list[str]
    quality: dict[str, QualityReport]  # gold file -> scores

    def summary(self) -> str:
        ingested = [f for f in self.files if f.report is not None]
        flagged = [f for f in ingested if f.needs_flag]
        refused = [f for f in self.files if f.report is None]
        lines = [
            f"ingest: {len(self.files)} files: {len(ingested)} ingested "
            f"({len(flagged)} needing a flag), {len(refused)} refused"
        ]
        lines += [f"  refused {f.name}: {f.refused}" for f in refused]
        lines += [f"  needs {f.name}: {', '.join(f.needs_flag)}" for f in flagged]
        return "\n".join(lines)

    def metadata_table(self) -> str:
        if not self.metadata:
            return ""
        head = f"{'field':<12}{'right':>7}{'of':>6}{'acc':>8}"
        lines = [head, "-" * len(head)]
        for name, (right, n) in self.metadata.items():
            lines.append(f"{name:<12}{right:>7}{n:>6}{right / max(n, 1):>8.3f}")
        return "\n".join(lines)


def read_index(path: Path) -> dict[str, dict[str, str]]:
    """file name -> {field: true value} from an INDEX.tsv."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return {row["file"]: {k: (v or "").strip() for k, v in row.items()} for row in rows}


def raw_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in RAW_SUFFIXES)


@contextmanager
def scratch_copy(knowledge: Path) -> Iterator[Path]:
    """A temporary copy of a knowledge folder (reports, facts, sources; no cache or history)."""
    with tempfile.TemporaryDirectory(prefix="reportqa-harness-") as tmp:
        target = Path(tmp) / "knowledge"
        shutil.copytree(
            knowledge, target, ignore=shutil.ignore_patterns(".cache", ".history", ".lock")
        )
        yield target


def ingest_folder(
    folder: Path, knowledge: Path, sandbox: Sandbox | None, only: set[str] | None = None
) -> list[Ingested]:
    """Ingest every raw file of `folder` (or those named in `only`) into `knowledge`, one
    change each, no flags."""
    out = []
    for path in raw_files(folder):
        if only is not None and path.name not in only:
            continue
        item = Ingested(path.name)
        try:
            prepared = changes.prepare_file(path, knowledge, None, sandbox)
            item.needs_flag = prepared.needs_flag
            changes.save_report(Repository(knowledge), prepared, "harness")
            item.report = prepared.report
        except ReportQAError as e:
            item.refused = str(e).replace("\n", " ")
        out.append(item)
    return out


def _same(name: str, detected: object, true: str) -> bool:
    true = true.rstrip("?？").strip()
    if name == "year":
        return str(detected or "") == true
    return squeeze(str(detected or "")) == squeeze(true)


def compare_metadata(
    files: list[Ingested], index: dict[str, dict[str, str]]
) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Per field: (right, compared) over the files the index lists; refused files count as
    wrong on every field."""
    counts = {name: [0, 0] for name in FIELDS}
    mismatches: list[str] = []
    for item in files:
        truth = index.get(item.name)
        if truth is None:
            continue
        for name in FIELDS:
            detected = getattr(item.report, name) if item.report else None
            counts[name][1] += 1
            if item.report is not None and _same(name, detected, truth.get(name, "")):
                counts[name][0] += 1
            else:
                mismatches.append(f"{item.name} {name}: got {detected!r}, true {truth.get(name)!r}")
    all_right = sum(
        1
        for item in files
        if item.name in index
        and item.report is not None
        and all(_same(n, getattr(item.report, n), index[item.name].get(n, "")) for n in FIELDS)
    )
    table = {name: (right, n) for name, (right, n) in counts.items()}
    table["all fields"] = (all_right, sum(1 for item in files if item.name in index))
    return table, mismatches


def run(
    folder: Path,
    knowledge: Path,
    golds: list[Path],
    index: Path | None = None,
    sandbox: Sandbox | None = None,
) -> Outcome:
    """Ingest `folder` into a scratch copy of `knowledge`, compare, score (see the module)."""
    truth = read_index(index) if index else None
    with scratch_copy(knowledge) as scratch:
        files = ingest_folder(folder, scratch, sandbox, set(truth) if truth else None)
        metadata, mismatches = compare_metadata(files, truth) if truth else ({}, [])
        engine = open_engine(scratch)
        quality = {str(gold): evaluate(engine, load_gold(gold)) for gold in golds}
    return Outcome(files, metadata, mismatches, quality)
