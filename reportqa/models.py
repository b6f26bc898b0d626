"""Plain data of the engine: reports, passages, facts and answers.

Everything here is a frozen dataclass so that a knowledge base, once loaded, can be shared by
concurrent readers and swapped whole; nothing in this module does I/O or knows about Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ReportQAError(Exception):
    """Base class of the engine's own errors; the message is fit to show a user."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A self-contained piece of a report: its text in the original script and its section path."""

    id: str
    section: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Report:
    """One ingested report with its metadata and passages in reading order."""

    report_id: str
    title: str
    agency: str
    year: int | None
    doc_type: str
    source_file: str
    passages: tuple[Passage, ...]
    agency_short: tuple[str, ...] = ()
    region: tuple[str, ...] = ()  # province, city, district: only the levels that apply
    published: str | None = None  # ISO date, when stated
    script: str = "simplified"  # or "traditional": the script of the original text


@dataclass(frozen=True, slots=True)
class Fact:
    """A curated question/answer pair that names the report it comes from."""

    id: str
    question: str
    answer: str
    report_id: str
    alternatives: tuple[str, ...] = ()
    section: str = ""


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The reports and curated facts the engine answers from."""

    reports: tuple[Report, ...]
    facts: tuple[Fact, ...] = ()

    def report(self, report_id: str) -> Report | None:
        """The report with this id, or None."""
        for report in self.reports:
            if report.report_id == report_id:
                return report
        return None

    @property
    def passage_count(self) -> int:
        return sum(len(r.passages) for r in self.reports)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a passage of a report, the sentence that answers best, and its score."""

    report: Report
    passage: Passage
    sentence: str
    score: float
    fact: Fact | None = None

    @property
    def section(self) -> str:
        if self.fact is not None and self.fact.section:
            return self.fact.section
        return " / ".join(self.passage.section)

    def as_json(self) -> dict[str, object]:
        """The result object of the CLI's JSON contract."""
        return {
            "report_id": self.report.report_id,
            "agency": self.report.agency,
            "title": self.report.title,
            "year": self.report.year,
            "section": self.section,
            "passage": self.passage.text,
            "sentence": self.sentence,
            "score": round(self.score, 4),
            "source_file": self.report.source_file,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The engine's reply to one question: ranked hits and whether it dares to answer."""

    question: str
    answered: bool
    hits: tuple[Hit, ...]
    confidence: float = 0.0
    reason: str = ""  # why there is no answer, in Chinese, when answered is False
    coverage: tuple[str, ...] = field(default=())  # what the knowledge base covers (for no-answer)
    note: str = ""  # said before an answer: e.g. that a close agency stands in for the one asked

    def as_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "results": [h.as_json() for h in self.hits],
        }
