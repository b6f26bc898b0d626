"""Score the engine on a gold question set (format: shared/qa/FORMAT.md).

A result hits an item when the item's normalised evidence lies inside the normalised passage
returned and the result names the item's report (its source file or agency). Reported: hit@1,
hit@3 and MRR over answerable items, and answer accuracy over all items (answerable: answered
and hit@1; unanswerable: answered=false), overall and per style.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reportqa.models import Answer, Hit
from reportqa.normalize import squeeze
from reportqa.search import Engine

TOP = 3


@dataclass
class Tally:
    n: int = 0
    answerable: int = 0
    hit1: int = 0
    hit3: int = 0
    rr: float = 0.0
    correct: int = 0

    def add(self, other: Tally) -> None:
        for name in ("n", "answerable", "hit1", "hit3", "rr", "correct"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, name: str) -> str:
        a = max(self.answerable, 1)
        acc = self.correct / max(self.n, 1)
        if self.answerable:
            return (
                f"{name:<28}{self.n:>4}{self.hit1 / a:>8.3f}{self.hit3 / a:>8.3f}"
                f"{self.rr / a:>8.3f}{acc:>9.3f}"
            )
        return f"{name:<28}{self.n:>4}{'-':>8}{'-':>8}{'-':>8}{acc:>9.3f}"


@dataclass
class Report:
    overall: Tally
    styles: dict[str, Tally]
    misses: list[str] = field(default_factory=list)

    def table(self) -> str:
        head = f"{'style':<28}{'n':>4}{'hit@1':>8}{'hit@3':>8}{'MRR':>8}{'acc':>9}"
        lines = [head, "-" * len(head)]
        lines += [t.row(s) for s, t in sorted(self.styles.items())]
        lines += ["-" * len(head), self.overall.row("overall")]
        return "\n".join(lines)


def load_gold(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        items = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(items, list):
        raise ValueError(f"{path}: a gold set is a YAML list of items")
    return items


def is_hit(item: dict[str, Any], hit: Hit) -> bool:
    evidence = squeeze(str(item.get("evidence") or ""))
    if not evidence or evidence not in squeeze(hit.passage.text):
        return False
    return hit.report.source_file == item.get("source") or hit.report.agency == item.get("agency")


def score_item(item: dict[str, Any], answer: Answer) -> Tally:
    t = Tally(n=1)
    if not item.get("source"):
        t.correct = int(not answer.answered)
        return t
    t.answerable = 1
    rank = next((i + 1 for i, h in enumerate(answer.hits[:TOP]) if is_hit(item, h)), None)
    t.hit1 = int(rank == 1)
    t.hit3 = int(rank is not None)
    t.rr = 1.0 / rank if rank else 0.0
    t.correct = int(answer.answered and rank == 1)
    return t


def evaluate(engine: Engine, items: list[dict[str, Any]]) -> Report:
    overall = Tally()
    styles: dict[str, Tally] = defaultdict(Tally)
    misses: list[str] = []
    for item in items:
        answer = engine.ask(str(item["question"]), top=TOP)
        t = score_item(item, answer)
        overall.add(t)
        styles[str(item.get("style", "-"))].add(t)
        if not t.correct:
            misses.append(_describe_miss(item, answer, t))
    return Report(overall, dict(styles), misses)


def _describe_miss(item: dict[str, Any], answer: Answer, t: Tally) -> str:
    top = answer.hits[0] if answer.hits else None
    got = f"{top.report.agency} · {top.sentence[:60]}" if top else "(no result)"
    why = answer.reason or ""
    kind = (
        "unanswerable but answered"
        if not item.get("source")
        else ("not answered" if t.hit1 else ("hit@3" if t.hit3 else "miss"))
    )
    return (
        f"{item.get('id')} [{item.get('style')}] {kind}: {item['question']}\n"
        f"    expected: {item.get('evidence')}\n"
        f"    got ({answer.confidence:.2f} {why}): {got}"
    )
