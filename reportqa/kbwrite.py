"""Changes to the knowledge folder: add or replace a report from a raw file, rebuild all.

A raw file is extracted and ingested in memory, the resulting YAML is checked by reading it
back through the same validator that loads the knowledge base, and only then written
(atomically). The raw file is copied into `sources/`, and the metadata flags given for it are
recorded in `sources/manifest.yaml`, so `rebuild` can always re-create every report from the
raw texts with one command. A file that fails leaves the knowledge folder as it was.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reportqa import store
from reportqa.extract import ExtractError, extract_text
from reportqa.ingest import IngestError, Overrides, ingest_text
from reportqa.models import Report, ReportQAError

MANIFEST = "manifest.yaml"


class IngestFailed(ReportQAError):
    """A raw file could not be turned into a report; the message names the file."""


@dataclass
class Outcome:
    report: Report
    needs_flag: list[str] = field(default_factory=list)
    path: Path | None = None  # the YAML written (None on a dry run)
    replaced: bool = False


def ingest_file(
    path: Path,
    folder: Path,
    overrides: Overrides | None = None,
    dry_run: bool = False,
    keep_source: bool = True,
) -> Outcome:
    """Ingest one raw report file into the knowledge folder (or only check it: dry_run)."""
    if overrides is None or not any(vars(overrides).values()):
        # re-ingesting a known file without flags keeps the flags it was ingested with
        overrides = _overrides(read_manifest(folder).get(path.name, {}))
    try:
        text = extract_text(path)
        result = ingest_text(text, path.name, overrides)
    except (ExtractError, IngestError) as e:
        raise IngestFailed(str(e)) from e
    report = result.report
    data = store.dump_report(report)
    target = folder / "reports" / f"{report.report_id}.yaml"
    problems: list[store.Problem] = []
    if store.parse_report(data, str(target), problems) is None:  # never write what won't load
        raise IngestFailed(f"{path.name}: " + "; ".join(p.message for p in problems))
    replaced = target.exists()
    if dry_run:
        return Outcome(report, result.needs_flag, None, replaced)
    if keep_source:
        _keep_source(path, folder, overrides)
    if not replaced or target.read_bytes() != data.encode("utf-8"):
        store.atomic_write(target, data)
    return Outcome(report, result.needs_flag, target, replaced)


def rebuild(folder: Path) -> list[Outcome]:
    """Re-ingest every raw file in `sources/` with the flags recorded for it."""
    manifest = read_manifest(folder)
    outcomes = []
    for path in sorted((folder / "sources").iterdir()):
        if path.name == MANIFEST or path.name.startswith(".") or not path.is_file():
            continue
        flags = manifest.get(path.name, {})
        outcomes.append(ingest_file(path, folder, _overrides(flags), keep_source=False))
    return outcomes


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


def _keep_source(path: Path, folder: Path, overrides: Overrides) -> None:
    sources = folder / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    dest = sources / path.name
    if path.resolve() != dest.resolve():
        tmp = sources / f".{path.name}.tmp"
        shutil.copyfile(path, tmp)
        tmp.replace(dest)
    manifest = read_manifest(folder)
    flags = {k: v for k, v in vars(overrides).items() if v is not None}
    if manifest.get(path.name, {}) != flags:
        if flags:
            manifest[path.name] = flags
        else:
            manifest.pop(path.name, None)
        body = store.dump_yaml({"files": dict(sorted(manifest.items()))})
        note = (
            "# Metadata flags given when each raw file was ingested (used by `bot.py rebuild`).\n"
        )
        store.atomic_write(sources / MANIFEST, note + body)


def _overrides(flags: dict[str, Any]) -> Overrides:
    known = set(vars(Overrides()))
    return Overrides(**{k: v for k, v in flags.items() if k in known})
