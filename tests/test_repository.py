"""The change store (reportqa.kb.repository, through reportqa.kb.changes) and the live knowledge base:
round trips, rejected changes, audit and history, undo across restarts, faults injected at
every named step, SIGKILL at random moments, concurrent writers (threads, processes, the shell
racing a chat upload), and reloads that swap a whole engine.

Every knowledge folder is a private copy in tmp_path. Separate processes run
tests/repo_worker.py (see its docstring for the modes)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, ROOT_DIR, RunCli, copy_knowledge, snapshot
from filelock import FileLock

from reportqa.ingest import Overrides
from reportqa.kb import changes, repository, schema, validate
from reportqa.kb.changes import Prepared
from reportqa.kb.live import LiveKnowledge, ReloadResult
from reportqa.kb.open import open_engine
from reportqa.kb.repository import ChangeRejected, Repository, sha
from reportqa.models import Answer, Fact, ReportQAError
from tests import repo_worker
from tests.repo_worker import UPLOAD_NAME, loop_expected

WORKER = str(Path(repo_worker.__file__).resolve())
R000 = "000_e1829581f26616c9"
R001 = "001_f16e45e6654d40b6"  # the one report with flags in sources/manifest.yaml
R004 = "004_44d86d126aed4ddd"

NINGBO_NAME = "宁波市财政局2021年法治政府建设工作总结.txt"
NINGBO_TEXT = """\
宁波市财政局2021年法治政府建设工作总结
2021年，宁波市财政局坚持以习近平法治思想为指导，全面推进依法理财，法治政府建设取得新成效。现将有关情况总结如下：
一、主要工作及成效
（一）加强组织领导
成立法治政府建设工作领导小组，召开专题会议6次，研究部署法治建设重点任务15项。
（二）推进依法行政
全年审查规范性文件12件，合法性审查率达到100%，办理行政复议案件3件。
二、存在的不足
法治宣传形式还比较单一，干部学法用法的主动性有待提高。
三、下一步工作安排
（一）深化普法宣传
计划开展财政普法活动20场，覆盖干部职工800人次。
"""

State = tuple[tuple[tuple[str, str], ...], tuple[Fact, ...]]


class Crash(Exception):
    """The process dies at this checkpoint."""


def state(folder: Path) -> State:
    """What the knowledge base holds: every report as dumped YAML, and the facts."""
    kb = validate.load(folder)
    reports = tuple(sorted((r.report_id, schema.dump_report(r)) for r in kb.reports))
    return reports, kb.facts


def prepare_text(
    folder: Path, name: str, text: str, overrides: Overrides | None = None
) -> Prepared:
    return changes.prepare_upload(text.encode("utf-8"), name, folder, overrides)


def stray_temp_files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*.tmp")
        if ".cache" not in p.relative_to(folder).parts
    )


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """spawn(*args, **popen_kwargs): `python *args` with pipes; killed at teardown if alive."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **kwargs: object) -> subprocess.Popen[str]:
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        proc = subprocess.Popen([sys.executable, *args], text=True, **pipes, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def statuses(folder: Path) -> list[tuple[int, str, str]]:
    return [(e.seq, e.action, e.status) for e in Repository(folder).entries()]


# ================================================================ 1. basics


def test_add_fact_then_remove_fact_round_trip(kb_copy: Path) -> None:
    repo = Repository(kb_copy)
    before = state(kb_copy)
    reports_before = {k: v for k, v in snapshot(kb_copy).items() if k != "facts.yaml"}

    fact, change = changes.add_fact(
        repo, " 上城区发改局的测试问题？ ", " 测试答案 ", R004, "admin:1", ("另一问法", " "), "一、"
    )
    assert fact == Fact("f1", "上城区发改局的测试问题？", "测试答案", R004, ("另一问法",), "一、")
    assert (change.actor, change.action, change.status) == ("admin:1", "add-fact", "done")
    assert set(change.files) == {"facts.yaml"}
    assert validate.load(kb_copy).facts == (fact,)
    assert repo.facts() == [fact]

    second, _ = changes.add_fact(repo, "第二个问题？", "第二个答案", R000, "admin:1")
    assert second.id == "f2"
    changes.remove_fact(repo, "f1", "admin:2")
    assert validate.load(kb_copy).facts == (second,)
    third, _ = changes.add_fact(repo, "第三个问题？", "第三个答案", R000, "admin:1")
    assert third.id == "f3"  # the next free number after the highest kept
    changes.remove_fact(repo, "f2", "admin:2")
    changes.remove_fact(repo, "f3", "admin:2")

    assert state(kb_copy) == before
    assert {k: v for k, v in snapshot(kb_copy).items() if k != "facts.yaml"} == reports_before


def test_save_report_of_a_new_raw_text(kb_copy: Path) -> None:
    manifest = (kb_copy / "sources" / "manifest.yaml").read_bytes()
    prepared = prepare_text(kb_copy, NINGBO_NAME, NINGBO_TEXT)
    report = prepared.report
    assert (report.agency, report.year) == ("宁波市财政局", 2021)
    assert prepared.needs_flag == []
    sections = {s for p in report.passages for s in p.section}
    assert {"一、主要工作及成效", "（一）加强组织领导", "（二）推进依法行政"} <= sections
    assert any("召开专题会议6次" in p.text for p in report.passages)

    change = changes.save_report(Repository(kb_copy), prepared, "chat:7")

    kb = validate.load(kb_copy)
    assert len(kb.reports) == 6
    saved = kb.report(report.report_id)
    assert saved is not None and schema.dump_report(saved) == schema.dump_report(report)
    assert (kb_copy / "sources" / NINGBO_NAME).read_bytes() == NINGBO_TEXT.encode("utf-8")
    assert (kb_copy / "sources" / "manifest.yaml").read_bytes() == manifest  # no flags given
    assert set(change.files) == {f"reports/{report.report_id}.yaml", f"sources/{NINGBO_NAME}"}
    assert change.action == "add-report" and change.target == report.report_id
    with pytest.raises(ChangeRejected, match="无需保存"):
        changes.save_report(Repository(kb_copy), prepared, "chat:7")


def test_save_report_with_flags_records_them_in_the_manifest(kb_copy: Path) -> None:
    flags = Overrides(title="宁波市财政局2021年度法治政府建设情况报告", doc_type="年度报告")
    prepared = prepare_text(kb_copy, NINGBO_NAME, NINGBO_TEXT, flags)
    assert prepared.report.title == flags.title
    change = changes.save_report(Repository(kb_copy), prepared, "chat:7")
    assert "sources/manifest.yaml" in change.files
    manifest = changes.read_manifest(kb_copy)
    assert manifest[NINGBO_NAME] == {"title": flags.title, "doc_type": "年度报告"}
    assert f"{R001}.txt" in manifest  # the other entries are kept
    changes.remove_report(Repository(kb_copy), prepared.report.report_id, "shell")
    assert NINGBO_NAME not in changes.read_manifest(kb_copy)
    assert f"{R001}.txt" in changes.read_manifest(kb_copy)


def test_remove_report_removes_yaml_source_manifest_entry_and_its_facts(kb_copy: Path) -> None:
    repo = Repository(kb_copy)
    cites_001, _ = changes.add_fact(repo, "上海市经信委的测试问题？", "答案一", R001, "admin")
    cites_004, _ = changes.add_fact(repo, "上城区发改局的测试问题？", "答案二", R004, "admin")
    others = {
        k: v
        for k, v in snapshot(kb_copy).items()
        if R001 not in k and k not in ("facts.yaml", "sources/manifest.yaml")
    }
    assert f"{R001}.txt" in changes.read_manifest(kb_copy)

    change = changes.remove_report(repo, R001, "shell:root")

    assert not (kb_copy / "reports" / f"{R001}.yaml").exists()
    assert not (kb_copy / "sources" / f"{R001}.txt").exists()
    assert f"{R001}.txt" not in changes.read_manifest(kb_copy)
    kb = validate.load(kb_copy)
    assert len(kb.reports) == 4 and kb.report(R001) is None
    assert kb.facts == (cites_004,)
    assert cites_001 not in kb.facts
    assert set(change.files) == {
        f"reports/{R001}.yaml",
        f"sources/{R001}.txt",
        "sources/manifest.yaml",
        "facts.yaml",
    }
    assert all(change.files[rel]["after"] is None for rel in change.files if R001 in rel)
    now = snapshot(kb_copy)
    assert {k: now[k] for k in others} == others  # nothing else was touched
    with pytest.raises(ChangeRejected, match="没有报告"):
        changes.remove_report(repo, R001, "shell:root")


def test_changes_that_would_break_the_kb_are_rejected_and_write_nothing(kb_copy: Path) -> None:
    repo = Repository(kb_copy)
    prepared = prepare_text(kb_copy, NINGBO_NAME, NINGBO_TEXT)
    changes.save_report(repo, prepared, "chat:1")  # so there is history and an audit log
    changes.add_fact(repo, "已有的问题？", "已有的答案", R004, "admin")
    # a YAML upload that reuses the passage ids of report 004 under another report id
    clash_yaml = (kb_copy / "reports" / f"{R004}.yaml").read_text(encoding="utf-8")
    clash_yaml = clash_yaml.replace(f"report_id: {R004}", "report_id: copy-of-004", 1)
    clash = changes.prepare_upload(clash_yaml.encode("utf-8"), "copy-of-004.yaml", kb_copy)
    before = snapshot(kb_copy, history=True)
    assert ".history/audit.jsonl" in before

    attempts: list[tuple[str, Callable[[], object]]] = [
        (
            "unknown report 'no-such-report'",
            lambda: changes.add_fact(repo, "问题？", "答案", "no-such-report", "admin"),
        ),
        ("不能为空", lambda: changes.add_fact(repo, "  ", "答案", R004, "admin")),
        ("f99", lambda: changes.remove_fact(repo, "f99", "admin")),
        ("没有报告", lambda: changes.remove_report(repo, "no-such-report", "admin")),
        ("无需保存", lambda: changes.save_report(repo, prepared, "admin")),
        ("also in", lambda: changes.save_report(repo, clash, "admin")),
    ]
    for message, attempt in attempts:
        with pytest.raises(ChangeRejected, match=re.escape(message)):
            attempt()
        assert snapshot(kb_copy, history=True) == before, message

    # a hand-broken facts.yaml: every fact change is refused until it is fixed
    broken = before["facts.yaml"] + b"  - this is: [not closed\n"
    (kb_copy / "facts.yaml").write_bytes(broken)
    broken_snapshot = snapshot(kb_copy, history=True)
    with pytest.raises(ChangeRejected, match="facts.yaml"):
        changes.add_fact(repo, "问题？", "答案", R004, "admin")
    assert snapshot(kb_copy, history=True) == broken_snapshot


def test_audit_log_records_time_actor_action_target_and_hashes(kb_copy: Path) -> None:
    repo = Repository(kb_copy)
    started = time.time()
    original_004 = (kb_copy / "reports" / f"{R004}.yaml").read_bytes()
    fact, added = changes.add_fact(repo, "审计测试的问题？", "审计答案", R004, "admin:99")
    facts_after_add = (kb_copy / "facts.yaml").read_bytes()
    removed = changes.remove_report(repo, R004, "shell:root")

    lines = (kb_copy / ".history" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert repo.audit() == records
    assert [(r["seq"], r["actor"], r["action"], r["target"], r["outcome"]) for r in records] == [
        (added.seq, "admin:99", "add-fact", "审计测试的问题？", "done"),
        (removed.seq, "shell:root", "remove-report", R004, "done"),
    ]
    for record in records:
        when = datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
        assert started - 2 <= when <= time.time() + 2
    assert records[0]["files"] == {"facts.yaml": {"before": None, "after": sha(facts_after_add)}}
    files = records[1]["files"]
    assert files[f"reports/{R004}.yaml"] == {"before": sha(original_004), "after": None}
    assert files["facts.yaml"] == {
        "before": sha(facts_after_add),
        "after": sha((kb_copy / "facts.yaml").read_bytes()),
    }
    assert fact not in validate.load(kb_copy).facts


def test_history_keeps_at_most_keep_versions(
    kb_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "KEEP_VERSIONS", 3)
    repo = Repository(kb_copy)
    for i in range(5):
        changes.add_fact(repo, f"第{i}个问题？", f"答案{i}", R004, "admin")
    assert [e.seq for e in repo.entries()] == [3, 4, 5]
    dirs = sorted(p.name for p in (kb_copy / ".history").iterdir() if p.is_dir())
    assert dirs == ["00000003", "00000004", "00000005"]
    assert len(repo.audit(limit=100)) == 5  # the audit log keeps every change
    # the kept versions still undo, newest first
    repo.undo("admin")
    assert [f.question for f in validate.load(kb_copy).facts] == [
        f"第{i}个问题？" for i in range(4)
    ]
    assert len(repo.entries()) == 3


def test_undo_walks_back_byte_identically_across_restarts(kb_copy: Path, run_cli: RunCli) -> None:
    versions = [snapshot(kb_copy)]
    changes.add_fact(Repository(kb_copy), "上城区发改局的问题？", "答案", R004, "admin")
    versions.append(snapshot(kb_copy))
    prepared = prepare_text(kb_copy, NINGBO_NAME, NINGBO_TEXT)
    changes.save_report(Repository(kb_copy), prepared, "chat:1")
    versions.append(snapshot(kb_copy))
    changes.remove_report(Repository(kb_copy), R004, "shell")  # also removes the fact
    versions.append(snapshot(kb_copy))
    assert len({tuple(sorted(v.items())) for v in versions}) == 4

    undo = Repository(kb_copy).undo("admin:2")  # a new Repository object each time
    assert snapshot(kb_copy) == versions[2]
    assert (undo.action, undo.actor, undo.status) == ("undo", "admin:2", "done")
    assert undo.target.startswith("#3 remove-report")
    # the next undo in a new process (a restart)
    result = run_cli("undo", env={"KNOWLEDGE_DIR": str(kb_copy)})
    assert result.returncode == 0, result.stderr
    assert snapshot(kb_copy) == versions[1]
    Repository(kb_copy).undo("admin:2")
    assert snapshot(kb_copy) == versions[0]  # facts.yaml did not exist: it is gone again
    assert not (kb_copy / "facts.yaml").exists()
    with pytest.raises(ChangeRejected, match="没有可以撤销的改动"):
        Repository(kb_copy).undo("admin:2")
    assert snapshot(kb_copy) == versions[0]
    assert statuses(kb_copy) == [
        (1, "add-fact", "undone"),
        (2, "add-report", "undone"),
        (3, "remove-report", "undone"),
        (4, "undo", "done"),
        (5, "undo", "done"),
        (6, "undo", "done"),
    ]


def test_undo_with_nothing_to_undo_is_rejected(kb_copy: Path) -> None:
    before = snapshot(kb_copy, history=True)
    with pytest.raises(ChangeRejected):
        Repository(kb_copy).undo("admin")
    assert snapshot(kb_copy, history=True) == before


# ================================================================ 2. fault injection


def _setup_nothing(folder: Path) -> None:
    return None


def _setup_fact_citing_004(folder: Path) -> None:
    changes.add_fact(Repository(folder), "上城区发改局的已有问题？", "已有答案", R004, "setup")


def _save_new_report(repo: Repository, folder: Path) -> None:
    changes.save_report(repo, prepare_text(folder, NINGBO_NAME, NINGBO_TEXT), "chat:1")


def _replace_004(repo: Repository, folder: Path) -> None:
    raw = (KNOWLEDGE / "sources" / f"{R004}.txt").read_text(encoding="utf-8")
    assert "办结率100%" in raw
    text = (
        raw.replace("办结率100%", "办结率99.5%")
        + "五、补充说明\n本次修订新增补充说明一段，共3项。\n"
    )
    prepared = prepare_text(folder, f"{R004}.txt", text)
    assert prepared.report.report_id == R004
    changes.save_report(repo, prepared, "chat:1")


def _remove_004(repo: Repository, folder: Path) -> None:
    changes.remove_report(repo, R004, "shell:root")


def _add_fact(repo: Repository, folder: Path) -> None:
    changes.add_fact(repo, "上城区发改局新增的问题？", "新增答案", R004, "admin")


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Callable[[Path], None]
    change: Callable[[Repository, Path], None]
    files: int  # files the change touches


SCENARIOS = [
    Scenario("save-new-report", _setup_nothing, _save_new_report, 2),
    Scenario("replace-report", _setup_nothing, _replace_004, 2),
    Scenario("remove-report-with-fact", _setup_fact_citing_004, _remove_004, 3),
    Scenario("add-fact", _setup_nothing, _add_fact, 1),
]


def _crash_at(index: int, calls: list[str]) -> Callable[[str], None]:
    def checkpoint(step: str) -> None:
        calls.append(step)
        if len(calls) - 1 == index:
            raise Crash(step)

    return checkpoint


def _all_written_from(steps: list[str]) -> int:
    """The first step at which every file of the change has its new bytes on disk."""
    last = max(i for i, s in enumerate(steps) if s.startswith("after-write:"))
    return last - 1 if steps[last - 1].startswith("after-rename:") else last


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_crash_at_any_step_recovers_to_the_old_or_the_new_version(
    tmp_path: Path, scenario: Scenario
) -> None:
    clean = copy_knowledge(tmp_path / "clean")
    scenario.setup(clean)
    old = state(clean)
    steps: list[str] = []
    scenario.change(Repository(clean, checkpoint=steps.append), clean)
    new = state(clean)
    assert new != old
    assert steps[:2] == ["before-history", "after-history"] and steps[-1] == "after-done"
    assert sum(s.startswith("after-write:") for s in steps) == scenario.files
    all_written = _all_written_from(steps)

    for i, step in enumerate(steps):
        folder = copy_knowledge(tmp_path / f"step{i}")
        scenario.setup(folder)
        assert state(folder) == old
        calls: list[str] = []
        with pytest.raises(Crash):
            scenario.change(Repository(folder, checkpoint=_crash_at(i, calls)), folder)
        assert calls == steps[: i + 1], "the crashed run took another path than the clean one"

        notes = Repository(folder).recover()

        got = state(folder)  # loads, or KnowledgeError fails the test
        expect_new = i >= all_written
        assert got == (new if expect_new else old), f"crash at {step} ({i}): wrong version"
        if step in ("before-history", "after-done"):
            assert notes == [], step  # nothing pending: nothing to do
        else:
            assert len(notes) == 1 and notes[0].startswith(
                "completed" if expect_new else "rolled back"
            ), (step, notes)
        assert all(status != "pending" for _, _, status in statuses(folder)), step
        assert stray_temp_files(folder) == [], step
        assert Repository(folder).recover() == []  # recovering twice changes nothing
        fact, _ = changes.add_fact(Repository(folder), "恢复之后的问题？", "恢复之后", R000, "t")
        assert fact in validate.load(folder).facts, step


def test_the_next_change_recovers_first(kb_copy: Path) -> None:
    """No explicit recover(): the next change (in a new Repository) rolls back first."""
    _setup_fact_citing_004(kb_copy)
    old = state(kb_copy)
    calls: list[str] = []
    with pytest.raises(Crash):  # dies after the first of three files (the report) is deleted
        _remove_004(Repository(kb_copy, checkpoint=_crash_at(2, calls)), kb_copy)
    assert calls[-1] == f"after-write:reports/{R004}.yaml"
    assert not (kb_copy / "reports" / f"{R004}.yaml").exists()  # half done
    changes.add_fact(Repository(kb_copy), "另一个问题？", "另一个答案", R000, "t")
    reports, facts = state(kb_copy)
    assert reports == old[0]  # the removal was rolled back
    assert [f.question for f in facts] == [*(f.question for f in old[1]), "另一个问题？"]
    assert [(action, status) for _, action, status in statuses(kb_copy)] == [
        ("add-fact", "done"),
        ("remove-report", "rolled-back"),
        ("add-fact", "done"),
    ]
    outcomes = [(r["action"], r["outcome"]) for r in Repository(kb_copy).audit()]
    assert ("remove-report", "rolled-back") in outcomes


def test_live_knowledge_recovers_when_it_opens(kb_copy: Path) -> None:
    old = state(kb_copy)
    with pytest.raises(Crash):
        # dies with the report written but not its raw file
        _save_new_report(Repository(kb_copy, checkpoint=_crash_at(4, [])), kb_copy)
    knowledge = LiveKnowledge(kb_copy)
    assert state(kb_copy) == old
    assert len(knowledge.engine.kb.reports) == 5
    assert all(status != "pending" for _, _, status in statuses(kb_copy))


def test_undo_after_a_crash_while_marking_the_change_undone_walks_back(kb_copy: Path) -> None:
    repo = Repository(kb_copy)
    changes.add_fact(repo, "问题一？", "答案一", R004, "admin")
    changes.add_fact(repo, "问题二？", "答案二", R004, "admin")

    def die_after_done(step: str) -> None:
        if step == "after-done":
            raise Crash(step)

    with pytest.raises(Crash):
        Repository(kb_copy, checkpoint=die_after_done).undo("admin")
    Repository(kb_copy).recover()
    assert [f.question for f in validate.load(kb_copy).facts] == ["问题一？"]  # the undo is done
    Repository(kb_copy).undo("admin")
    assert validate.load(kb_copy).facts == ()  # walks back to before 问题一


def test_a_change_that_took_effect_is_in_the_audit_log_after_a_crash(kb_copy: Path) -> None:
    def die_after_done(step: str) -> None:
        if step == "after-done":
            raise Crash(step)

    with pytest.raises(Crash):
        _add_fact(Repository(kb_copy, checkpoint=die_after_done), kb_copy)
    Repository(kb_copy).recover()
    assert len(validate.load(kb_copy).facts) == 1  # the change took effect
    assert [(r["action"], r["outcome"]) for r in Repository(kb_copy).audit()] == [
        ("add-fact", "done")
    ]


def test_recover_removes_the_temporary_file_of_a_killed_process(kb_copy: Path) -> None:
    old = state(kb_copy)
    step = "before-rename:ningbo-czj-2021-upload.yaml"
    result = subprocess.run(
        [sys.executable, WORKER, str(kb_copy), "die", step],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 17, result.stdout + result.stderr  # died at the step
    Repository(kb_copy).recover()
    assert state(kb_copy) == old
    assert stray_temp_files(kb_copy) == []


def test_a_busy_lock_gives_a_message_fit_for_the_user(
    kb_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "LOCK_TIMEOUT", 0.3)
    before = snapshot(kb_copy, history=True)
    with FileLock(str(kb_copy / repository.LOCK)), pytest.raises(ReportQAError):
        changes.add_fact(Repository(kb_copy), "问题？", "答案", R004, "admin")
    assert snapshot(kb_copy, history=True) == before


# ================================================================ 3. SIGKILL


def _loop_state(folder: Path) -> tuple[tuple[str, ...], int | None]:
    kb = validate.load(folder)
    report = kb.report("worker-report")
    counter = None
    if report is not None:
        found = {int(m) for p in report.passages for m in re.findall(r"第(\d+)轮", p.text)}
        assert len(found) == 1, found
        counter = found.pop()
    return tuple(f.question for f in kb.facts), counter


def test_sigkill_at_random_moments_leaves_the_state_of_k_or_k_plus_1_changes(
    tmp_path: Path, spawn: Spawn
) -> None:
    rng = random.Random(20240611)
    started = time.monotonic()
    seen_k = []
    for round_ in range(8):
        folder = copy_knowledge(tmp_path / f"kill{round_}")
        proc = spawn(WORKER, str(folder), "100000")
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        done = [int(line.split()[1]) for line in out.splitlines() if line.startswith("done ")]
        k = done[-1] if done else 0
        assert done == list(range(1, k + 1))
        seen_k.append(k)

        lock = FileLock(str(folder / repository.LOCK), timeout=5)  # flock died with the process
        lock.acquire()
        lock.release()
        Repository(folder).recover()
        got = _loop_state(folder)
        assert got in (loop_expected(k), loop_expected(k + 1)), (round_, k, got)
        assert all(status != "pending" for _, _, status in statuses(folder))

        t0 = time.monotonic()
        fact, _ = changes.add_fact(Repository(folder), "杀死之后的问题？", "答案", R000, "t")
        assert time.monotonic() - t0 < 5
        assert fact in validate.load(folder).facts
    assert max(seen_k) >= 3, seen_k  # the kills did land among the changes
    assert time.monotonic() - started < 40


# ================================================================ 4. concurrency


@pytest.mark.parametrize("pause", [0.0, 0.01], ids=["full-speed", "interleaved"])
def test_two_processes_adding_facts_at_once_lose_nothing(
    kb_copy: Path, spawn: Spawn, pause: float
) -> None:
    actors = ("admin-a", "admin-b")
    procs = [spawn(WORKER, str(kb_copy), "facts", actor, "25", str(pause)) for actor in actors]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:  # both start at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "finished" in out

    facts = validate.load(kb_copy).facts
    assert len(facts) == 50
    assert len({f.id for f in facts}) == 50
    assert {f.question for f in facts} == {
        f"{actor}的第{i}个问题？" for actor in actors for i in range(25)
    }
    audit = Repository(kb_copy).audit(limit=1000)
    for actor in actors:
        assert sum(r["actor"] == actor and r["outcome"] == "done" for r in audit) == 25
    # (Interleaving is not asserted, being timing-dependent: at full speed one process tends
    # to win the lock 25 times in a row, as filelock polls every 50 ms; with the pause the
    # changes of the two processes were seen to alternate 7-8 times.)


@pytest.mark.parametrize("shared", [True, False], ids=["one-repository", "repository-each"])
def test_two_threads_adding_facts_at_once_lose_nothing(kb_copy: Path, shared: bool) -> None:
    common = Repository(kb_copy)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(actor: str) -> None:
        repo = common if shared else Repository(kb_copy)
        try:
            barrier.wait(timeout=10)
            for i in range(25):
                changes.add_fact(repo, f"{actor}的第{i}个问题？", f"答案{i}", R004, actor)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(a,)) for a in ("thread-a", "thread-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    facts = validate.load(kb_copy).facts
    assert len(facts) == 50 and len({f.id for f in facts}) == 50
    assert len({f.question for f in facts}) == 50


@pytest.mark.parametrize("delay", [0.0, 0.1, 0.25])
def test_a_shell_remove_racing_a_chat_upload_loses_neither(
    kb_copy: Path, spawn: Spawn, delay: float
) -> None:
    upload = spawn(WORKER, str(kb_copy), "upload", str(delay))
    assert upload.stdout is not None and upload.stdin is not None
    assert upload.stdout.readline().strip() == "ready"
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["KNOWLEDGE_DIR"] = str(kb_copy)
    shell = spawn("bot.py", "remove", R004, cwd=ROOT_DIR, env=env)
    upload.stdin.write("go\n")
    upload.stdin.flush()
    out, err = upload.communicate(timeout=60)
    assert upload.returncode == 0, err
    _, shell_err = shell.communicate(timeout=60)
    assert shell.returncode == 0, shell_err

    new_id = "ningbo-czj-2021-upload"
    assert f"saved {new_id}" in out
    assert not (kb_copy / "reports" / f"{R004}.yaml").exists()
    assert not (kb_copy / "sources" / f"{R004}.txt").exists()
    assert (kb_copy / "sources" / UPLOAD_NAME).exists()
    kb = validate.load(kb_copy)
    assert kb.report(R004) is None and kb.report(new_id) is not None
    assert len(kb.reports) == 5
    done = {
        (r["action"], r["target"], r["actor"].split(":")[0])
        for r in Repository(kb_copy).audit()
        if r["outcome"] == "done"
    }
    assert done == {("remove-report", R004, "shell"), ("add-report", new_id, "chat")}


# ================================================================ 5. LiveKnowledge

QUESTION = "上城区发改局2023年测试专用事实的问题是什么？"
ANSWER = "这是测试专用的事实答案，共计7项。"


def _key(answer: Answer) -> tuple[object, ...]:
    return (
        answer.answered,
        tuple(
            (h.report.report_id, h.passage.id, h.fact.id if h.fact else None) for h in answer.hits
        ),
    )


def _answers_with_fact(answer: Answer, fact: Fact) -> bool:
    return (
        bool(answer.hits) and answer.hits[0].fact == fact and answer.hits[0].passage.text == ANSWER
    )


def test_live_reload_picks_up_changes_and_keeps_serving_through_a_broken_edit(
    kb_copy: Path,
) -> None:
    knowledge = LiveKnowledge(kb_copy)
    first = knowledge.engine
    assert not any(h.fact for h in first.ask(QUESTION).hits)
    assert not knowledge.changed_on_disk()
    assert knowledge.reload() == ReloadResult(False)
    assert knowledge.engine is first

    fact, _ = changes.add_fact(Repository(kb_copy), QUESTION, ANSWER, R004, "admin")
    assert knowledge.changed_on_disk()
    assert knowledge.reload() == ReloadResult(True)
    second = knowledge.engine
    assert second is not first
    answer = second.ask(QUESTION)
    assert answer.answered and _answers_with_fact(answer, fact)
    assert not any(h.fact for h in first.ask(QUESTION).hits)  # the old engine is untouched
    assert not knowledge.changed_on_disk()

    path = kb_copy / "reports" / f"{R004}.yaml"
    good = path.read_bytes()
    path.write_bytes(good + b"unknown_key: 1\n")  # a broken hand edit
    line = good.count(b"\n") + 1
    assert knowledge.changed_on_disk()
    result = knowledge.reload()
    assert not result.changed
    assert any(
        f"{R004}.yaml:{line}:" in p and "unknown key 'unknown_key'" in p for p in result.problems
    ), result.problems
    assert knowledge.last_problems == result.problems
    assert knowledge.engine is second
    assert _key(knowledge.engine.ask(QUESTION)) == _key(answer)

    path.write_bytes(good)  # fixed
    assert knowledge.changed_on_disk()
    assert knowledge.reload() == ReloadResult(True)
    assert knowledge.engine is not second
    assert knowledge.last_problems == ()
    assert _answers_with_fact(knowledge.engine.ask(QUESTION), fact)


def test_questions_asked_during_reloads_see_the_old_or_the_new_knowledge(kb_copy: Path) -> None:
    knowledge = LiveKnowledge(kb_copy)
    repo = Repository(kb_copy)
    absent = _key(knowledge.engine.ask(QUESTION))
    fact, _ = changes.add_fact(repo, QUESTION, ANSWER, R004, "admin")
    assert knowledge.reload().changed
    present = _key(knowledge.engine.ask(QUESTION))
    assert present != absent

    stop = threading.Event()
    results: list[tuple[bool, tuple[object, ...], type]] = []
    errors: list[BaseException] = []

    def ask_in_a_loop() -> None:
        while not stop.is_set():
            engine = knowledge.engine  # once per question
            try:
                answer = engine.ask(QUESTION)
            except BaseException as e:
                errors.append(e)
                return
            has_fact = fact in engine.kb.facts
            results.append((has_fact, _key(answer), type(answer.answered)))
            time.sleep(0.005)

    askers = [threading.Thread(target=ask_in_a_loop) for _ in range(4)]
    for t in askers:
        t.start()
    try:
        for i in range(5):
            if i % 2 == 0:
                changes.remove_fact(repo, fact.id, "admin")
            else:
                again, _ = changes.add_fact(repo, QUESTION, ANSWER, R004, "admin")
                assert again == fact
            assert knowledge.reload() == ReloadResult(True)
            time.sleep(0.05)
    finally:
        stop.set()
        for t in askers:
            t.join(timeout=30)
    assert not errors, errors
    assert all(kind is bool for _, _, kind in results)
    assert {has for has, _, _ in results} == {True, False}
    wrong = [(has, key) for has, key, _ in results if key != (present if has else absent)]
    assert not wrong, wrong[:3]
    assert fact not in knowledge.engine.kb.facts  # 5 reloads: ends without the fact


def test_a_reload_during_a_multi_file_change_sees_the_old_or_the_new_version(
    kb_copy: Path,
) -> None:
    """A reload waits for a change in progress (it reads under the repository lock)."""
    _setup_fact_citing_004(kb_copy)
    old = state(kb_copy)
    knowledge = LiveKnowledge(kb_copy)
    halfway, finish = threading.Event(), threading.Event()

    def checkpoint(step: str) -> None:
        if step == f"after-write:reports/{R004}.yaml":  # 004 is gone, facts.yaml not yet
            halfway.set()
            finish.wait(10)

    remover = threading.Thread(
        target=_remove_004, args=(Repository(kb_copy, checkpoint=checkpoint), kb_copy)
    )
    remover.start()
    assert halfway.wait(10)
    results: list[object] = []
    reloader = threading.Thread(target=lambda: results.append(knowledge.reload(force=True)))
    reloader.start()
    time.sleep(0.3)
    assert reloader.is_alive()  # waiting for the lock, not reading half a change
    finish.set()
    remover.join(10)
    reloader.join(30)
    new = state(kb_copy)
    assert new != old
    served = knowledge.engine.kb
    assert results and results[0].problems == ()  # type: ignore[attr-defined]
    assert (tuple(sorted(r.report_id for r in served.reports)), served.facts) == (
        tuple(r for r, _ in new[0]),
        new[1],
    )


def test_the_index_cache_is_never_keyed_by_other_content(
    kb_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change written between reading and parsing cannot end up cached under the hash of
    other content: the engine parses exactly the bytes it hashed."""
    real_validate = validate.check
    raced: list[bool] = []

    def validate_while_an_admin_adds_a_fact(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(True)
            changes.add_fact(Repository(kb_copy), QUESTION, ANSWER, R004, "admin")
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(validate, "check", validate_while_an_admin_adds_a_fact)
    assert open_engine(kb_copy).kb.facts == ()  # what was read before the fact was added
    monkeypatch.setattr(validate, "check", real_validate)
    assert len(open_engine(kb_copy).kb.facts) == 1  # the new content: its own cache entry
    Repository(kb_copy).undo("admin")  # the folder holds the old content again
    assert validate.load(kb_copy).facts == ()
    assert open_engine(kb_copy).kb.facts == ()  # a restart: served from the right cache


# ================================================================ other data-loss findings


def test_uploads_of_two_agencies_with_chinese_file_names_do_not_replace_each_other(
    kb_copy: Path,
) -> None:
    repo = Repository(kb_copy)
    ningbo = prepare_text(kb_copy, NINGBO_NAME, NINGBO_TEXT)
    changes.save_report(repo, ningbo, "chat:1")
    other_text = NINGBO_TEXT.replace("宁波市财政局", "杭州市民政局").replace("6次", "9次")
    other = prepare_text(kb_copy, "杭州市民政局2021年法治政府建设工作总结.txt", other_text)
    with contextlib.suppress(ChangeRejected):  # refusing it is fine; losing the first is not
        changes.save_report(repo, other, "chat:2")
    agencies = {r.agency for r in validate.load(kb_copy).reports}
    assert "宁波市财政局" in agencies


def test_a_rewritten_file_keeps_its_permissions(kb_copy: Path) -> None:
    source = kb_copy / "sources" / f"{R004}.txt"
    source.chmod(0o644)
    _replace_004(Repository(kb_copy), kb_copy)
    assert stat.S_IMODE(source.stat().st_mode) == 0o644
