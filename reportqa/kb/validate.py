"""Check a knowledge folder as a whole: every file parses, ids are unique across files, facts
name reports that exist, no two reports claim one raw file. Every problem names file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from reportqa.kb.layout import report_files
from reportqa.kb.schema import (
    MANIFEST_REL,
    KnowledgeError,
    Problem,
    parse_facts,
    parse_manifest,
    parse_report,
    read_text,
)
from reportqa.models import Fact, KnowledgeBase, Report


def check(
    folder: Path, overlay: dict[str, bytes | None] | None = None, exact: bool = False
) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read and check every file of the knowledge folder; `overlay` (relative path -> bytes,
    None for a deleted file) checks the folder as it would be after a change. With `exact`,
    the overlay is the whole knowledge base and the folder is not read at all."""
    overlay = overlay or {}
    problems: list[Problem] = []
    reports: list[Report] = []
    ids: dict[str, str] = {}
    passage_ids: dict[str, str] = {}
    owners: dict[str, str] = {}  # source_file -> the report whose raw file it is
    paths = {} if exact else {p.relative_to(folder).as_posix(): p for p in report_files(folder)}
    for rel in overlay:
        if rel.startswith("reports/") and rel.endswith(".yaml") and rel.count("/") == 1:
            paths[rel] = folder / rel
    broken: set[str] = set()  # report ids of files that did not load (facts citing them are
    for rel, path in sorted(paths.items()):  # not reported again: the file's error is the news)
        if rel in overlay and overlay[rel] is None:
            continue
        broken.add(path.stem)
        text = read_text(path, problems, overlay.get(rel))
        if text is None:
            continue
        report = parse_report(text, str(path), problems)
        if report is None:
            continue
        if report.report_id in ids:
            problems.append(
                Problem(
                    str(path),
                    1,
                    f"duplicate report_id {report.report_id!r} (also in {ids[report.report_id]})",
                )
            )
            continue
        if path.stem != report.report_id:
            problems.append(Problem(str(path), 1, f"file name must be {report.report_id}.yaml"))
        for p in report.passages:
            if p.id in passage_ids:
                problems.append(
                    Problem(
                        str(path),
                        _line_of(text, p.id),
                        f"passage id {p.id!r} also in {passage_ids[p.id]}",
                    )
                )
            passage_ids[p.id] = str(path)
        if report.source_file in owners:  # removing one report must never delete another's
            problems.append(
                Problem(
                    str(path),
                    _line_of(text, report.source_file),
                    f"source_file {report.source_file!r} is already the raw file of report "
                    f"{owners[report.source_file]!r}",
                )
            )
            continue
        if report.source_file:
            owners[report.source_file] = report.report_id
        ids[report.report_id] = str(path)
        broken.discard(path.stem)
        reports.append(report)
    facts: tuple[Fact, ...] = ()
    facts_path = folder / "facts.yaml"
    facts_data = overlay.get("facts.yaml") if "facts.yaml" in overlay else None
    if ("facts.yaml" in overlay and facts_data is not None) or (
        "facts.yaml" not in overlay and not exact and facts_path.exists()
    ):
        text = read_text(facts_path, problems, facts_data)
        if text is not None:
            facts = parse_facts(text, str(facts_path), problems)
            for fact in facts:
                if fact.report_id not in ids and fact.report_id not in broken:
                    problems.append(
                        Problem(
                            str(facts_path),
                            _line_of(text, fact.report_id, after=_line_of(text, f"id: {fact.id}")),
                            f"fact {fact.id!r} names unknown report {fact.report_id!r}",
                        )
                    )
    manifest_path = folder / MANIFEST_REL
    check_manifest = (MANIFEST_REL in overlay and overlay[MANIFEST_REL] is not None) or (
        MANIFEST_REL not in overlay and not exact and manifest_path.exists()
    )
    if check_manifest:
        text = read_text(manifest_path, problems, overlay.get(MANIFEST_REL))
        if text is not None:
            parse_manifest(text, str(manifest_path), problems)
    if problems:
        return None, problems
    return KnowledgeBase(tuple(reports), facts), []


def _line_of(text: str, needle: str, after: int = 0) -> int:
    """The first line (from line `after` on) that holds `needle`, for problems found after
    parsing; 1 when it cannot be found."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(needle)}(?![\w-])")
    for number, line in enumerate(text.split("\n"), 1):
        if number >= after and pattern.search(line):
            return number
    return 1


def load(folder: Path) -> KnowledgeBase:
    """The knowledge base in `folder`; KnowledgeError if any file has a problem."""
    kb, problems = check(folder)
    if kb is None:
        raise KnowledgeError(problems)
    return kb
