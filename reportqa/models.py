"""Plain data of the engine: reports, passages, facts and answers.

Everything here is a frozen dataclass so that a knowledge base, once loaded, can be shared by
concurrent readers and swapped whole; nothing in this module does I/O or knows about Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


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


class Reason(StrEnum):
    """Why the engine does not answer; render.py words each one, with Answer.reason_data."""

    NOTHING_TO_SEARCH = "nothing_to_search"  # the question holds no searchable word
    NOTHING_FOUND = "nothing_found"  # no passage shares a term with it
    NO_REPORT_OF_PLACE = "no_report_of_place"  # data: the places named
    NO_REPORT_OF_AGENCY = "no_report_of_agency"  # data: the agencies named
    NO_YEAR = "no_year"  # data: the years asked
    PLAN_ONLY = "plan_only"  # an outcome asked of a plan; data: its doc_type
    NO_VALUE = "no_value"  # the value asked is not in the answer; data: its kind (query.py)
    NO_TOPIC = "no_topic"  # a name or a number alone, nothing asked about it
    NOT_COVERED = "not_covered"  # the best passage holds too little of the question


@dataclass(frozen=True, slots=True)
class Answer:
    """The engine's reply to one question: ranked hits and whether it dares to answer."""

    question: str
    answered: bool
    hits: tuple[Hit, ...]
    confidence: float = 0.0
    reason: Reason | None = None  # why there is no answer, when answered is False
    reason_data: tuple[str, ...] = ()  # what the reason names (places, agencies, years...)
    coverage: tuple[Report, ...] = field(default=())  # the reports held (for a no-answer)
    # (the agency asked, the close agency whose report answers) when one stands in for another
    stand_in: tuple[str, str] | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "question": self.question,
            "answered": self.answered,
            "results": [h.as_json() for h in self.hits],
        }
