"""kb/open.py: a change costs what it changes, the updated index ranks exactly as a full
rebuild (on real reports), and the cache of segments, bases and points stays safe and bounded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT_DIR, copy_knowledge

from reportqa import merge
from reportqa.kb import changes
from reportqa.kb import open as kb_open
from reportqa.kb.layout import knowledge_files
from reportqa.kb.live import LiveKnowledge
from reportqa.kb.open import CACHE_DIR, KEEP_POINTS, open_engine
from reportqa.kb.repository import Repository
from reportqa.search import Engine

CORPUS = ROOT_DIR / "tests" / "data" / "corpus"
FIRST = ("dev_002.txt", "dev_003.txt", "dev_010.txt", "dev_030.txt")  # ingested at the start
LATER = ("dev_019.txt", "dev_041.txt", "dev_044.txt")  # added by the changes
QUESTIONS = (
    "舟山市科技局2020年公开了多少条政府信息？",
    "坪山区2023年地区生产总值是多少",
    "洪泽区依申请公开了多少件",
    "新安县粮食产量",
    "海拉尔区城镇居民人均可支配收入",
    "保定市2009年财政收入",
    "徐水区招商引资",
    "龙华区法治政府建设行政复议",
    "普陀区政务服务办件网上受理率",
    "上城区发改局 新增主动公开政府信息",
    "月球上有多少个行政服务中心",
    "坪山区地区生产总植是多少",  # typos read by their sound (植 for 值, 政俯 for 政府)
    "洪泽区政俯信息公开依申请",
    "徐水区招商饮资",
)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled knowledge base with four real reports of other genres ingested."""
    folder = copy_knowledge(tmp_path_factory.mktemp("grown") / "knowledge")
    for name in FIRST:
        changes.ingest_file(CORPUS / name, folder)
    shutil.rmtree(folder / CACHE_DIR, ignore_errors=True)
    return folder


@pytest.fixture
def folder(grown: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "knowledge"
    shutil.copytree(grown, dest, ignore=shutil.ignore_patterns(CACHE_DIR, ".history", ".lock"))
    return dest


def questions(engine: Engine) -> list[str]:
    """The fixed questions and pieces of text from across every report held."""
    out = list(QUESTIONS)
    for report in engine.kb.reports:
        for p in report.passages[:: max(1, len(report.passages) // 4)]:
            out.append(p.text[10:30])
    return out


def ranking(engine: Engine, asked: list[str]) -> list[object]:
    out: list[object] = []
    for q in asked:
        a = engine.ask(q, top=5)
        out.append((q, a.answered, [(h.passage.id, h.score) for h in a.hits]))
    return out


def change(folder: Path) -> None:
    """Remove a report, replace another (one passage edited), add two real reports."""
    repo = Repository(folder)
    reports = sorted((folder / "reports").glob("*.yaml"))
    changes.remove_report(repo, reports[1].stem, "test")
    edited = reports[3]
    text = edited.read_text(encoding="utf-8")
    assert "政府" in text
    edited.write_text(text.replace("政府", "人民政府", 3), encoding="utf-8")
    for name in LATER[:2]:
        changes.ingest_file(CORPUS / name, folder)


def assert_same_as_full(engine: Engine, folder: Path) -> None:
    full = open_engine(folder, use_cache=False)
    assert [r.report_id for r in engine.kb.reports] == [r.report_id for r in full.kb.reports]
    assert engine.index.n_docs == full.index.n_docs == full.kb.passage_count
    assert engine.index.avg_len == full.index.avg_len
    assert set(engine.index.vocab) == set(full.index.vocab)
    asked = questions(full)
    assert ranking(engine, asked) == ranking(full, asked)
    for q in asked[:20]:  # every passage's score, bit for bit
        mine = engine.index.score(engine.analyse(q).term_weights)
        theirs = full.index.score(full.analyse(q).term_weights)
        assert np.array_equal(mine, theirs), q


def is_updated(engine: Engine) -> bool:
    """Made by updating another index (a base plus a tail), not by merging everything."""
    return len(engine.index.blocks) == 2 and engine.index.doc_pos is not None


def test_an_update_ranks_exactly_as_a_full_rebuild(folder: Path) -> None:
    before = open_engine(folder)
    change(folder)
    after = open_engine(folder, files=knowledge_files(folder), previous=before)
    assert is_updated(after)
    assert_same_as_full(after, folder)
    assert "dev_019" in " ".join(r.source_file for r in after.kb.reports)


def test_updates_upon_updates_still_rank_as_a_full_rebuild(folder: Path) -> None:
    engine = open_engine(folder)
    change(folder)
    engine = open_engine(folder, previous=engine)
    changes.ingest_file(CORPUS / LATER[2], folder)
    repo = Repository(folder)
    changes.remove_report(repo, engine.kb.reports[0].report_id, "test")
    engine = open_engine(folder, previous=engine)
    assert is_updated(engine)
    assert_same_as_full(engine, folder)


def test_a_new_process_updates_the_newest_point(folder: Path) -> None:
    open_engine(folder)  # a point, as a running bot or an earlier command leaves it
    change(folder)
    cut: list[int] = []
    real_cut_all = kb_open._cut_all

    def counting(jobs: list[tuple[str, bytes, str]], where: Path | None) -> list[object]:
        cut.append(len(jobs))
        return real_cut_all(jobs, where)  # type: ignore[return-value]

    kb_open._cut_all = counting  # type: ignore[assignment]
    try:
        engine = open_engine(folder)
    finally:
        kb_open._cut_all = real_cut_all
    assert is_updated(engine)
    assert sum(cut) == 3  # the replaced report and the two added: nothing else is cut
    assert_same_as_full(engine, folder)


def test_a_large_change_merges_everything_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = open_engine(folder)
    change(folder)
    monkeypatch.setattr(merge, "MERGE_MIN", 0)
    monkeypatch.setattr(merge, "MERGE_SHARE", 0.0)
    after = open_engine(folder, previous=before)
    assert len(after.index.blocks) == 1 and after.index.doc_pos is None
    assert_same_as_full(after, folder)


def test_the_running_bot_reloads_through_the_update(folder: Path) -> None:
    live = LiveKnowledge(folder)
    changes.ingest_file(CORPUS / LATER[0], folder)
    assert live.reload().changed
    assert is_updated(live.engine)
    assert any(r.source_file.startswith("dev_019") for r in live.engine.kb.reports)
    assert_same_as_full(live.engine, folder)


def test_cutting_on_every_core_gives_the_same_index(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = open_engine(folder, use_cache=False)
    monkeypatch.setattr(kb_open, "PARALLEL_MIN", 0)
    monkeypatch.setattr(kb_open.os, "cpu_count", lambda: 2)
    parallel = open_engine(folder)
    asked = questions(serial)
    assert ranking(parallel, asked) == ranking(serial, asked)


def test_damaged_cache_files_are_ignored_and_built_again(folder: Path) -> None:
    open_engine(folder)
    kb_open.Store.wait()  # the base and point are written while the engine answers
    cache = folder / CACHE_DIR
    segments = sorted((cache / "segments").iterdir())
    segments[0].write_bytes(segments[0].read_bytes()[:100])  # a partial segment
    segments[1].write_bytes(b"not a segment")
    (base,) = (cache / "bases").iterdir()
    (base / "docs.npy").write_bytes(b"\x93NUMPY garbage")
    for point in (cache / "points").iterdir():
        point.write_text("{", encoding="utf-8")  # a torn point
    engine = open_engine(folder)
    assert_same_as_full(engine, folder)
    store = kb_open.Store(cache)
    for path in segments[:2]:  # written again, whole
        assert store.segment(path.name.removesuffix(".npz")) is not None
    again = open_engine(folder)  # and served from the mended cache
    assert [r.report_id for r in again.kb.reports] == [r.report_id for r in engine.kb.reports]


def test_two_processes_building_at_once_do_not_corrupt_each_other(folder: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from reportqa.kb.open import open_engine\n"
        "if __name__ == '__main__':\n"
        "    e = open_engine(Path(sys.argv[1]))\n"
        "    a = e.ask('坪山区2023年地区生产总值是多少')\n"
        "    print(a.hits[0].passage.id if a.hits else '-', e.index.n_docs)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(folder)],
            cwd=ROOT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    leftovers = [p for p in (folder / CACHE_DIR).rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert_same_as_full(open_engine(folder), folder)


def test_old_points_bases_and_segments_are_removed(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb_open, "STALE_SECONDS", 0)  # no other process is building here
    engine = open_engine(folder)
    target = sorted((folder / "reports").glob("*.yaml"))[2]
    for n in range(6):  # six versions of one report: six points
        text = target.read_text(encoding="utf-8")
        target.write_text(text.replace("政府", f"政府{n}", 1), encoding="utf-8")
        engine = open_engine(folder, previous=engine)
    kb_open.Store.wait()
    cache = folder / CACHE_DIR
    points = list((cache / "points").iterdir())
    assert len(points) == KEEP_POINTS
    assert len(list((cache / "bases").iterdir())) == 1  # every point starts from the one base
    held = len(engine.kb.reports)
    # the live segments, and the replaced versions the kept points still stand on
    assert len(list((cache / "segments").iterdir())) <= held + KEEP_POINTS


def test_a_cache_that_cannot_be_written_still_answers(folder: Path) -> None:
    (folder / CACHE_DIR).write_text("a file where the cache folder would be", encoding="utf-8")
    engine = open_engine(folder)
    assert engine.ask("坪山区2023年地区生产总值是多少").hits
    assert_same_as_full(open_engine(folder), folder)


def test_an_empty_knowledge_base_opens_cold_and_warm(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    for _ in range(2):  # built, then from its point
        engine = open_engine(tmp_path)
        assert engine.kb.reports == () and engine.index.n_docs == 0
        assert not engine.ask("政府信息公开了多少条").answered


def test_updates_without_a_cache_keep_what_removed_reports_held(folder: Path) -> None:
    """A removed base report's terms leave the statistics at every later update too, even
    when no cache holds its segment."""
    engine = open_engine(folder, use_cache=False)
    repo = Repository(folder)
    changes.remove_report(repo, engine.kb.reports[1].report_id, "test")
    engine = open_engine(folder, use_cache=False, previous=engine)
    changes.ingest_file(CORPUS / LATER[0], folder)
    engine = open_engine(folder, use_cache=False, previous=engine)
    assert is_updated(engine)
    assert_same_as_full(engine, folder)


def test_a_failed_reload_is_not_taken_for_a_facts_only_change(folder: Path) -> None:
    live = LiveKnowledge(folder)
    report = sorted((folder / "reports").glob("*.yaml"))[1]
    report.write_text(report.read_text(encoding="utf-8") + "bogus_key: 1\n", encoding="utf-8")
    assert live.reload().problems
    rid = sorted(p.stem for p in (folder / "reports").glob("*.yaml"))[0]
    (folder / "facts.yaml").write_text(  # a hand edit of the facts alone
        f"facts:\n- id: f1\n  question: 问题\n  answer: 答案\n  report_id: {rid}\n",
        encoding="utf-8",
    )
    result = live.reload()
    assert not result.changed and result.problems  # still the broken report, said again


def test_a_script_without_a_main_guard_still_builds(folder: Path) -> None:
    """Workers are spawned while other threads run; a script whose main module cannot be
    imported again breaks that pool, and the reports are cut in the process instead."""
    script = (
        "import sys, threading, time\n"
        "from pathlib import Path\n"
        "from reportqa.kb import open as kb_open\n"
        "kb_open.PARALLEL_MIN = 0\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "e = kb_open.open_engine(Path(sys.argv[1]), use_cache=False)\n"
        "print(e.index.n_docs)\n"
    )
    done = subprocess.run(
        [sys.executable, "-", str(folder)],
        input=script,
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) == open_engine(folder, use_cache=False).index.n_docs


def test_typos_read_by_their_sound_rank_as_in_a_full_rebuild(tmp_path: Path) -> None:
    """A report added that sorts first: its terms are numbered after the base's in the
    updated index, before them in a full build; a typo must be read the same in both."""
    folder = copy_knowledge(tmp_path / "knowledge")
    first = sorted((folder / "reports").glob("*.yaml"))[0]
    data = first.read_bytes()
    first.unlink()
    before = open_engine(folder)
    first.write_bytes(data)
    updated = open_engine(folder, previous=before)
    full = open_engine(folder, use_cache=False)
    assert is_updated(updated)
    typos = []  # two-character strings no passage holds that read like many that some do
    for tids in full.homophones._by_key.values():
        held = {full.index.terms[t][1:] for t in tids}
        if len(held) > 8:
            pairs = {a + b for a in {h[0] for h in held} for b in {h[1] for h in held}}
            typos += sorted(pairs - held)[:3]
    assert len(typos) > 10
    for q in typos:
        mine = updated.index.score(updated.analyse(q).term_weights)
        theirs = full.index.score(full.analyse(q).term_weights)
        assert np.array_equal(mine, theirs), q
