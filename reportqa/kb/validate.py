"""Check a knowledge folder as a whole: every file parses, ids are unique across files, facts
name reports that exist, no two reports claim one raw file. Every problem names file and line.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import OrderedDict
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

PARSED_LIMIT = 50_000  # report files whose parse is remembered (the least recently used go)
_parsed: OrderedDict[bytes, Report] = OrderedDict()


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def remember(data: bytes, report: Report) -> None:
    """`report` is what the report file `data` parses to, without a problem: a check that
    meets these bytes again makes only the checks across files (a change to one report of
    thousands parses one file, not thousands)."""
    key = _digest(data)
    _parsed[key] = report
    with contextlib.suppress(KeyError):  # threads: it may be gone again already
        _parsed.move_to_end(key)
        while len(_parsed) > PARSED_LIMIT:
            _parsed.popitem(last=False)


def forget() -> None:
    """Forget every parse remembered (as a new process starts)."""
    _parsed.clear()


def read_report(path: Path) -> Report | None:
    """The report in one file (None when it cannot be read or does not parse cleanly),
    parsed once per content as in check()."""
    return _Check(path.parent, {}, False)._parse(path.name, path)


def check(
    folder: Path, overlay: dict[str, bytes | None] | None = None, exact: bool = False
) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read and check every file of the knowledge folder; `overlay` (relative path -> bytes,
    None for a deleted file) checks the folder as it would be after a change. With `exact`,
    the overlay is the whole knowledge base and the folder is not read at all. A report file
    whose bytes were parsed before (remember) is not parsed again."""
    state = _Check(folder, overlay or {}, exact)
    paths = {} if exact else {p.relative_to(folder).as_posix(): p for p in report_files(folder)}
    for rel in state.overlay:
        if rel.startswith("reports/") and rel.endswith(".yaml") and rel.count("/") == 1:
            paths[rel] = folder / rel
    for rel, path in sorted(paths.items()):
        if not (rel in state.overlay and state.overlay[rel] is None):
            state.report(rel, path)
    facts = state.facts()
    text = state.read(MANIFEST_REL)
    if text is not None:
        parse_manifest(text, str(folder / MANIFEST_REL), state.problems)
    if state.problems:
        return None, state.problems
    return KnowledgeBase(tuple(state.reports), facts), []


class _Check:
    """What one check() has seen so far: ids across files, raw-file owners, problems."""

    def __init__(self, folder: Path, overlay: dict[str, bytes | None], exact: bool) -> None:
        self.folder, self.overlay, self.exact = folder, overlay, exact
        self.problems: list[Problem] = []
        self.reports: list[Report] = []
        self.ids: dict[str, str] = {}
        self.passage_ids: dict[str, str] = {}
        self.owners: dict[str, str] = {}  # source_file -> the report whose raw file it is
        # report ids of files that did not load (facts citing them are not reported again:
        # the file's error is the news)
        self.broken: set[str] = set()

    def read(self, rel: str) -> str | None:
        """The text of `rel` as the folder would be (None if it is absent or unreadable)."""
        path = self.folder / rel
        if rel in self.overlay:
            data = self.overlay[rel]
            return None if data is None else read_text(path, self.problems, data)
        if self.exact or not path.exists():
            return None
        return read_text(path, self.problems)

    def report(self, rel: str, path: Path) -> None:
        self.broken.add(path.stem)
        report = self._parse(rel, path)
        if report is None:
            return
        where = str(path)
        if report.report_id in self.ids:
            also = self.ids[report.report_id]
            self._problem(where, 1, f"duplicate report_id {report.report_id!r} (also in {also})")
            return
        if path.stem != report.report_id:
            self._problem(where, 1, f"file name must be {report.report_id}.yaml")
        for p in report.passages:
            if p.id in self.passage_ids:
                also = self.passage_ids[p.id]
                line = _line_of(self.text(rel, path), p.id)
                self._problem(where, line, f"passage id {p.id!r} also in {also}")
            self.passage_ids[p.id] = where
        owner = self.owners.get(report.source_file)
        if owner is not None:  # removing one report must never delete another's raw file
            line = _line_of(self.text(rel, path), report.source_file)
            why = f"source_file {report.source_file!r} is already the raw file of report {owner!r}"
            self._problem(where, line, why)
            return
        if report.source_file:
            self.owners[report.source_file] = report.report_id
        self.ids[report.report_id] = where
        self.broken.discard(path.stem)
        self.reports.append(report)

    def _parse(self, rel: str, path: Path) -> Report | None:
        """The report in a file (None, with its problems, when it does not parse)."""
        data = self.overlay.get(rel)
        if data is None:
            try:
                data = path.read_bytes()
            except OSError:
                read_text(path, self.problems)  # says why it cannot be read
                return None
        key = _digest(data)
        known = _parsed.get(key)
        if known is not None:
            with contextlib.suppress(KeyError):  # another thread may have evicted it
                _parsed.move_to_end(key)
            return known
        before = len(self.problems)
        text = read_text(path, self.problems, data)
        report = parse_report(text, str(path), self.problems) if text is not None else None
        if report is not None and len(self.problems) == before:
            remember(data, report)
        return report

    def text(self, rel: str, path: Path) -> str:
        """A report file's text, to find the line of a problem in it."""
        data = self.overlay.get(rel)
        try:
            return (data if data is not None else path.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    def facts(self) -> tuple[Fact, ...]:
        text = self.read("facts.yaml")
        if text is None:
            return ()
        where = str(self.folder / "facts.yaml")
        facts = parse_facts(text, where, self.problems)
        for fact in facts:
            if fact.report_id not in self.ids and fact.report_id not in self.broken:
                line = _line_of(text, fact.report_id, after=_line_of(text, f"id: {fact.id}"))
                why = f"fact {fact.id!r} names unknown report {fact.report_id!r}"
                self._problem(where, line, why)
        return facts

    def _problem(self, path: str, line: int, message: str) -> None:
        self.problems.append(Problem(path, line, message))


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
