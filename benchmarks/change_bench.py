"""What one change costs: a report added, replaced or removed, until it is answerable.

Two paths, each on its own scratch copy of a knowledge folder whose index cache is warm:
- the running bot: from the write 「确认入库」 (or 删除) makes (`changes.save_report` /
  `remove_report`) through `LiveKnowledge.reload` to the answer of a question about the change,
  in this process, as the bot's handlers run them;
- the command line: `bot.py ingest FILE` (or `remove ID`) as a process, then `bot.py ask` as a
  process until its first answer; `ask alone` is that second figure on the folder before the
  change (a warm start), so `ask after - ask alone` is what the change added to answering.

Each change is checked: the added report answers the question asked of it, the replaced one
gives its new text, the removed one is gone.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus"
ADDED = ("dev_019.txt", "dev_041.txt")  # real reports the generated ones do not hold
MARK = "本年度新建示范基地四十七个。"  # appended to the replaced report's first passage
MARK_QUESTION = "新建示范基地多少个"
OPS = ("add", "replace", "remove")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reportqa.kb import changes, schema, validate  # noqa: E402
from reportqa.kb.live import LiveKnowledge  # noqa: E402
from reportqa.kb.repository import Repository  # noqa: E402
from reportqa.models import Answer, Passage, Report  # noqa: E402


@dataclass
class ChangeRow:
    """Seconds per operation on each path."""

    bot: dict[str, float] = field(default_factory=dict)
    cli_change: dict[str, float] = field(default_factory=dict)
    cli_ask: dict[str, float] = field(default_factory=dict)
    ask_alone: float = 0.0

    def cells(self) -> tuple[float, ...]:
        """bot per operation, the command per operation, ask alone, ask after per operation."""
        return (
            *(self.bot[op] for op in OPS),
            *(self.cli_change[op] for op in OPS),
            self.ask_alone,
            *(self.cli_ask[op] for op in OPS),
        )

    @property
    def bot_worst(self) -> float:
        return max(self.bot.values())

    @property
    def cli_extra_worst(self) -> float:
        return max(t - self.ask_alone for t in self.cli_ask.values())


def measure(folder: Path, work: Path, ask_first: Callable[[Path, str], float]) -> ChangeRow:
    """Every operation on both paths; `ask_first(folder, question)` spawns `bot.py ask` and
    gives the seconds to its first answer."""
    row = ChangeRow()
    bot_folder = _scratch(folder, work / "bot")
    _bot_path(row, bot_folder)
    shutil.rmtree(bot_folder, ignore_errors=True)
    cli_folder = _scratch(folder, work / "cli")
    row.ask_alone = statistics.median(ask_first(cli_folder, MARK_QUESTION) for _ in range(3))
    _cli_path(row, cli_folder, work, ask_first)
    shutil.rmtree(cli_folder, ignore_errors=True)
    return row


def _scratch(folder: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns(".history", ".lock"))
    return dest


def _generated(folder: Path, n: int) -> Report:
    """The n-th generated report of the folder (not one of the five real ones, 000-004)."""
    path = sorted((folder / "reports").glob("00[1-9]??_*.yaml"))[n]
    problems: list[schema.Problem] = []
    report = schema.parse_report(path.read_text(encoding="utf-8"), str(path), problems)
    assert report is not None, problems
    return report


def _marked(report: Report) -> Report:
    """The report with MARK appended to its first passage (a new version of it)."""
    first = report.passages[0]
    passages = (Passage(first.id, first.section, first.text + MARK), *report.passages[1:])
    return replace(report, passages=passages)


def _question_of(report: Report) -> str:
    """A question about a report: its agency and a piece of one of its passages."""
    text = max(report.passages, key=lambda p: len(p.text)).text
    return f"{report.agency}{text[20:40]}"


def _check(op: str, answer: Answer, report_id: str) -> None:
    top = answer.hits[0].report.report_id if answer.hits else None
    if op == "remove":
        ok = all(h.report.report_id != report_id for h in answer.hits)
    else:
        ok = top == report_id
    if not ok:
        raise RuntimeError(f"{op}: the answer does not reflect the change ({top} vs {report_id})")


def _bot_path(row: ChangeRow, folder: Path) -> None:
    validate.forget()  # as a bot process starts: nothing parsed yet
    live = LiveKnowledge(folder)
    repo = Repository(folder)
    for op in OPS:
        if op == "add":
            prepared = changes.prepare_file(CORPUS / ADDED[0], folder)
            target, question = prepared.report, _question_of(prepared.report)
        elif op == "replace":
            report = _generated(folder, 0)
            target, question = _marked(report), MARK_QUESTION
            prepared = changes.Prepared(target)  # as a YAML upload is saved
        else:
            target = _generated(folder, 1)
            question = _question_of(target)
        t = time.perf_counter()
        if op == "remove":
            changes.remove_report(repo, target.report_id, "bench")
        else:
            changes.save_report(repo, prepared, "bench")
        live.reload()
        answer = live.engine.ask(question)
        row.bot[op] = time.perf_counter() - t
        _check(op, answer, target.report_id)


def _cli_path(
    row: ChangeRow, folder: Path, work: Path, ask_first: Callable[[Path, str], float]
) -> None:
    env = dict(os.environ, KNOWLEDGE_DIR=str(folder))
    env.pop("TELEGRAM_BOT_TOKEN", None)
    for op in OPS:
        if op == "add":
            args = ["ingest", str(CORPUS / ADDED[1])]
            question = None
        elif op == "replace":
            report = _marked(_generated(folder, 2))
            path = work / f"{report.report_id}.yaml"
            path.write_text(schema.dump_report(report), encoding="utf-8")
            args, question = ["ingest", str(path)], MARK_QUESTION
        else:
            args = ["remove", _generated(folder, 3).report_id]
            question = _question_of(_generated(folder, 3))
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), *args],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        row.cli_change[op] = time.perf_counter() - t
        if question is None:
            question = _question_of(_newest(folder))
        row.cli_ask[op] = ask_first(folder, question)


def _newest(folder: Path) -> Report:
    path = max((folder / "reports").glob("*.yaml"), key=lambda p: p.stat().st_mtime)
    problems: list[schema.Problem] = []
    report = schema.parse_report(path.read_text(encoding="utf-8"), str(path), problems)
    assert report is not None, problems
    return report
