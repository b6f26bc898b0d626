"""Which reports a question is about: each report's place and kind of agency, and the factor by
which its passages are weighted when a question names places, agencies or years.

A report of another place or agency than the one named scores MISMATCH of what it would; a
report of a wider area (the city, for a question about one of its districts) BROADER. A close
agency (科委 for 科学技术局) stands in for the one named when the place holds none of its kind.
Reports of the same place and agency share one computation: thousands of reports, a few hundred
groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reportqa.agencies import agency_kind, close_kinds, is_abbreviation
from reportqa.models import Report
from reportqa.normalize import normalize
from reportqa.places import Gazetteer, Place
from reportqa.query import Query

MISMATCH = 0.25  # score factor for a report of another place or agency than the one named
BROADER = 0.85  # score factor for a report of a wider area than the one named (市 for 区)
MEMO_LIMIT = 4096  # sets of agency (or place) names whose factors are remembered
REVIEWS_PREVIOUS_YEAR = ("政府工作报告",)  # a 2025年政府工作报告 reviews 2024 and plans 2025
_PASSAGE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!\d)")


def covered_years(report: Report) -> tuple[int, ...]:
    """The years a report speaks about: its own, and for a government work report the year
    it reviews (the one before)."""
    if report.year is None:
        return ()
    if report.doc_type in REVIEWS_PREVIOUS_YEAR:
        return (report.year, report.year - 1)
    return (report.year,)


def years_fit(q: Query, report: Report, passage_norm: str) -> bool:
    """Each year asked is the passage's: named in it, or the report's own year when the
    passage names no other year (「2019年粮食产量…」 is no answer about 2020)."""
    for y in q.years:
        if str(y) in passage_norm:
            continue
        if y not in covered_years(report):
            return False
        if any(int(other) != y for other in _PASSAGE_YEAR.findall(passage_norm)):
            return False
    return True


@dataclass(frozen=True)
class ReportInfo:
    """A report with its place resolved and its agency's kind and normalised name."""

    report: Report
    place: Place | None
    kind: str | None
    agency_norm: str

    @property
    def place_code(self) -> str | None:
        return self.place.code if self.place else None


class Scope:
    """The reports of a knowledge base as places and agencies. Built once; as questions come
    it remembers the factors of each set of names asked (bounded by MEMO_LIMIT)."""

    def __init__(self, reports: Sequence[Report], gaz: Gazetteer) -> None:
        self.reports = [
            ReportInfo(
                r, gaz.resolve(r.region), agency_kind(normalize(r.agency)), normalize(r.agency)
            )
            for r in reports
        ]
        self.known_kinds = {i.kind: i.kind for i in self.reports if i.kind}
        self._kinds_at: dict[str | None, set[str]] = {}  # place code -> kinds of agency held
        for info in self.reports:
            if info.kind:
                self._kinds_at.setdefault(info.place_code, set()).add(info.kind)
        self._report_index = {r.report_id: ri for ri, r in enumerate(reports)}
        self._group_reports()
        self.held_places = [i.place for i in self._groups if i.place is not None]
        self._agency_memo: dict[Any, np.ndarray] = {}
        self._place_memo: dict[Any, np.ndarray] = {}

    def _group_reports(self) -> None:
        """Reports of one place, kind and agency name form a group; the groups' distinct
        places are numbered too (None: a report of no known place)."""
        groups: dict[tuple[str | None, str | None, str], int] = {}
        self._groups: list[ReportInfo] = []
        group_of = []
        for info in self.reports:
            key = (info.place_code, info.kind, info.agency_norm)
            if key not in groups:
                groups[key] = len(self._groups)
                self._groups.append(info)
            group_of.append(groups[key])
        self._group_of = np.array(group_of, dtype=np.int64)
        codes: dict[str | None, int] = {}
        self._group_places: list[Place | None] = []
        for info in self._groups:
            if info.place_code not in codes:
                codes[info.place_code] = len(self._group_places)
                self._group_places.append(info.place)
        self._group_place = np.array([codes[i.place_code] for i in self._groups], dtype=np.int64)

    def factors(self, q: Query, report_ids: frozenset[str] | None) -> np.ndarray:
        """A score factor per report for the places and agencies named; 0 for the reports
        outside `report_ids` when it is given."""
        out = np.ones(len(self.reports))
        if q.places or q.agencies:
            places = np.ones(len(self._groups))
            if q.places:  # once per place held, not per report or group
                places = self._place_factors(q)[self._group_place]
            if (places == 1.0).any():  # a report of the very place asked about exists:
                places[places != 1.0] = MISMATCH  # wider ones don't count
            if q.agencies:
                places = places * self._agency_factors(q)
            out = places[self._group_of]
        if report_ids is not None:
            keep = np.zeros(len(self.reports), dtype=bool)
            keep[[self._report_index[r] for r in report_ids if r in self._report_index]] = True
            out = np.where(keep, out, 0.0)
        return out

    def named_exactly(self, q: Query, info: ReportInfo) -> bool:
        """Whether the report's agency is one named (its kind or a short form of its name);
        close names (stand_in) not counted."""
        for m in q.agencies:
            if info.kind and (info.kind in m.kinds or is_abbreviation(m.text, info.kind)):
                return True
            if is_abbreviation(m.text, info.agency_norm[-len(m.text) * 3 :] or "x"):
                return True
        return False

    def agency_factor(self, q: Query, info: ReportInfo) -> float:
        if not q.agencies or self.named_exactly(q, info):
            return 1.0
        return 1.0 if self.stand_in(q, info) else MISMATCH

    def stand_in(self, q: Query, info: ReportInfo) -> str:
        """The agency named in the question that this report's agency stands in for: a close
        name (科委 for 科学技术局, 经信局 for 经济和信息化委员会) when the knowledge base holds no
        agency of the named kind in that place; '' otherwise."""
        if not info.kind or info.kind not in q.close_kinds:
            return ""
        here = self._kinds_at.get(info.place_code, set())
        for m in q.agencies:
            if m.kinds & here:
                continue
            if any(close_kinds(k, info.kind) for k in m.kinds):
                return m.text
        return ""

    def _agency_factors(self, q: Query) -> np.ndarray:
        """The agency factor of every group; it depends on the agencies named alone, so it is
        remembered per set of names (people ask about a few hundred agencies, again and again)."""
        key = tuple((m.text, m.kinds) for m in q.agencies)
        return _remembered(
            self._agency_memo,
            key,
            lambda: np.array([self.agency_factor(q, info) for info in self._groups]),
        )

    def _place_factors(self, q: Query) -> np.ndarray:
        """The place factor of every place held; remembered per places named (and how they are
        written together), as _agency_factors."""
        key = (tuple(tuple(c.code for c in cands) for cands in q.places), q.owners, q.chained)
        return _remembered(
            self._place_memo,
            key,
            lambda: np.array([place_factor(q, place) for place in self._group_places]),
        )


def place_factor(q: Query, place: Place | None) -> float:
    """The factor for a report of `place` when the question names q.places: 1.0 when it is
    the place named (or within it), BROADER per place it is wider than, MISMATCH otherwise."""
    if not q.places:
        return 1.0
    if place is None:
        return MISMATCH
    factor = 1.0
    fits: list[int] = []
    others: list[int] = []  # places named that are neither this report's nor wider
    for n, cands in enumerate(q.places):
        if any(c.contains(place) for c in cands):
            if n in q.owners and not any(c.code == place.code for c in cands):
                return MISMATCH  # 淮安市人民政府 asked: 洪泽区人民政府 is another agency
            fits.append(n)
        elif any(place.contains(c) for c in cands):
            factor *= BROADER
        elif len(q.places) == 1:
            return MISMATCH  # the common case, decided at once
        else:
            others.append(n)
    if not others:
        return factor
    if not fits:
        return MISMATCH
    matching = [c for n in fits for c in q.places[n]]
    for n in others:
        related = any(c.contains(m) or m.contains(c) for c in q.places[n] for m in matching)
        tied = n < len(q.chained) and any(m in fits for m in q.chained[n])
        if related or tied:
            return MISMATCH
        # else another place the question speaks of (易县 working with 北京海淀区)
    return factor


def _remembered(
    memo: dict[Any, np.ndarray], key: object, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """memo[key], computed on first use; the memo is emptied when it holds MEMO_LIMIT keys."""
    found = memo.get(key)
    if found is None:
        found = compute()
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = found
    return found
