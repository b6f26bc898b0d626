"""The command line, run for real in subprocesses against copies of the bundled knowledge
folder (KNOWLEDGE_DIR): ask (JSON contract, known answers, stdin batches, plain text),
reports, validate, ingest, rebuild and eval."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KNOWLEDGE, RunCli, snapshot

from reportqa.kb import validate

RESULT_KEYS = {
    "report_id",
    "agency",
    "title",
    "year",
    "section",
    "passage",
    "sentence",
    "score",
    "source_file",
}
REPORT_IDS = sorted(p.stem for p in (KNOWLEDGE / "reports").glob("*.yaml"))

# Questions whose answers the bundled reports hold (read off knowledge/reports/*.yaml):
# question -> (report_id, text the answer sentence must contain)
KNOWN = {
    "舟山市科技局2020年在市政府信息公开网站公开信息数是多少条？": ("002_9e90b7df6a5084ed", "320条"),
    # traditional script, asked of a report written in simplified characters
    "舟山市科技局2020年在市政府信息公開網站公開信息數是多少條？": ("002_9e90b7df6a5084ed", "320条"),
    "舟山市科技局2020年共承辦人大代表建議和政協提案建議多少件？": ("002_9e90b7df6a5084ed", "19件"),
    "上城区发改局截止12月底共完成各类审批事项多少件？": ("004_44d86d126aed4ddd", "292件"),
    "上城区发改局开展各类信用宣传活动多少次？": ("004_44d86d126aed4ddd", "47次"),
    "上海市经信委组建首批中小企业服务专员队伍多少人？": ("001_f16e45e6654d40b6", "5000人"),
    # simplified question, traditional report
    "普陀区2020年要实现多少件一件事网上掌上联办？": ("003_08822b4da40a8511", "41件"),
}
UNANSWERABLE = [
    "宁波市财政局2020年公开了多少条信息？",  # another city and agency
    "宁波市科技局2020年在市政府信息公开网站公开信息数是多少条？",  # another city, same kind
    "舟山市科技局2015年公开信息数多少条？",  # a year the knowledge base does not hold
    "上城区发改局2020年完成各类审批事项多少件？",  # the report is of 2023
    "今天天气怎么样？",
]


def env_for(folder: Path) -> dict[str, str]:
    return {"KNOWLEDGE_DIR": str(folder)}


def json_lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines()]


def check_answer_shape(obj: dict, question: str, top: int) -> None:  # type: ignore[type-arg]
    assert set(obj) == {"question", "answered", "results"}
    assert obj["question"] == question
    assert isinstance(obj["answered"], bool)
    results = obj["results"]
    assert isinstance(results, list)
    assert len(results) <= top
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True), "results must be best first"
    for r in results:
        assert set(r) == RESULT_KEYS
        assert r["report_id"] in REPORT_IDS
        assert isinstance(r["score"], float | int)
        assert isinstance(r["year"], int | None)
        assert r["sentence"] and r["sentence"] in r["passage"]
        assert r["source_file"] == r["report_id"] + ".txt"


# ---------------------------------------------------------------- ask --json


@pytest.mark.parametrize(("top", "expected"), [(None, 3), ("1", 1), ("5", 5)])
def test_ask_json_contract(
    run_cli: RunCli, shared_kb: Path, top: str | None, expected: int
) -> None:
    question = "舟山市科技局2020年在市政府信息公开网站公开信息数是多少条？"
    args = ["ask", "--json", *(["--top", top] if top else []), question]
    res = run_cli(*args, env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    check_answer_shape(obj, question, expected)
    assert len(obj["results"]) == expected  # this question has plenty of candidates
    assert "\\u" not in lines[0]  # Chinese is printed as is


def test_ask_joins_question_words(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("ask", "--json", "上城区发改局", "审批事项多少件？", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    [obj] = json_lines(res.stdout)
    assert obj["question"] == "上城区发改局 审批事项多少件？"
    assert obj["results"][0]["report_id"] == "004_44d86d126aed4ddd"


@pytest.fixture(scope="module")
def known_answers(run_cli: RunCli, shared_kb: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    questions = [*KNOWN, *UNANSWERABLE]
    res = run_cli("ask", "--json", stdin="\n".join(questions) + "\n", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    objs = json_lines(res.stdout)
    assert [o["question"] for o in objs] == questions
    return {o["question"]: o for o in objs}


@pytest.mark.parametrize("question", list(KNOWN))
def test_known_answers(known_answers: dict, question: str) -> None:  # type: ignore[type-arg]
    report_id, needle = KNOWN[question]
    obj = known_answers[question]
    check_answer_shape(obj, question, 3)
    assert obj["answered"] is True
    best = obj["results"][0]
    assert best["report_id"] == report_id
    assert needle in best["sentence"].replace("條", "条")


def test_known_answer_metadata(known_answers: dict) -> None:  # type: ignore[type-arg]
    best = known_answers["上城区发改局开展各类信用宣传活动多少次？"]["results"][0]
    assert best["agency"] == "杭州市上城区发展改革和经济信息化局"
    assert best["year"] == 2023
    assert best["title"] == "2023年度法治政府建设工作总结"
    assert best["source_file"] == "004_44d86d126aed4ddd.txt"
    assert "信用" in best["section"]


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_unanswerable(known_answers: dict, question: str) -> None:  # type: ignore[type-arg]
    obj = known_answers[question]
    check_answer_shape(obj, question, 3)
    assert obj["answered"] is False


def test_unanswerable_still_lists_results(known_answers: dict) -> None:  # type: ignore[type-arg]
    obj = known_answers["宁波市财政局2020年公开了多少条信息？"]
    assert obj["answered"] is False
    assert len(obj["results"]) == 3
    obj = known_answers["舟山市科技局2015年公开信息数多少条？"]
    assert obj["results"] and obj["results"][0]["report_id"] == "002_9e90b7df6a5084ed"


# ---------------------------------------------------------------- stdin batch


def test_stdin_batch_keeps_order_and_count(run_cli: RunCli, shared_kb: Path) -> None:
    distinct = [
        "舟山市科技局2020年在市政府信息公开网站公开信息数是多少条？",
        "上城区发改局开展各类信用宣传活动多少次？",
        "宁波市财政局2020年公开了多少条信息？",
        "普陀區2020年要實現多少件“一件事”網上、掌上聯辦？",
        "上海市经信委改制上市企业培育库入库企业多少家？",
    ]
    questions = [distinct[i % 5] for i in range(300)]
    questions[17] = ""
    questions[123] = "   \t "
    questions[299] = ""
    res = run_cli(
        "ask", "--json", stdin="".join(q + "\n" for q in questions), env=env_for(shared_kb)
    )
    assert res.returncode == 0, res.stderr
    objs = json_lines(res.stdout)
    assert len(objs) == 300
    assert [o["question"] for o in objs] == questions
    for o in objs:
        check_answer_shape(o, o["question"], 3)
    for i in (17, 123, 299):
        assert objs[i]["answered"] is False and objs[i]["results"] == []
    # each distinct question gets its own answer, the same every time it is asked
    firsts = [objs[i] for i in range(5)]
    assert [o["answered"] for o in firsts] == [True, True, False, True, True]
    assert [o["results"][0]["report_id"][:3] for o in firsts] == ["002", "004", "002", "003", "001"]
    for i, o in enumerate(objs):
        if o["question"].strip():
            assert o == firsts[i % 5]


def test_stdin_windows_line_ends(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("ask", "--json", stdin="问题一\r\n问题二\r\n", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    assert [o["question"] for o in json_lines(res.stdout)] == ["问题一", "问题二"]


def test_stdin_invalid_utf8_line_does_not_kill_the_batch(run_cli: RunCli, shared_kb: Path) -> None:
    res = subprocess.run(
        [sys.executable, "bot.py", "ask", "--json"],
        cwd=KNOWLEDGE.parent,
        input="问题一\n".encode()
        + b"bad \xff\xfe bytes\n"
        + "上城区发改局开展各类信用宣传活动多少次？\n".encode(),
        env={**os.environ, "KNOWLEDGE_DIR": str(shared_kb)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")[-300:]
    assert len(res.stdout.decode("utf-8", "replace").splitlines()) == 3


# ---------------------------------------------------------------- plain ask


def test_plain_ask_answer(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("ask", "上城区发改局开展各类信用宣传活动多少次？", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("答：")
    assert "47次" in out.splitlines()[0]
    assert "来源" in out
    assert "杭州市上城区发展改革和经济信息化局" in out
    assert "2023年" in out


def test_plain_ask_no_answer(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("ask", "宁波市财政局2020年公开了多少条信息？", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "知识库" in out
    assert "来源：" not in out  # a no-answer does not pretend to cite an answer
    assert "答：" not in out
    for agency in ("舟山市科学技术局", "杭州市上城区发展改革和经济信息化局"):
        assert agency in out  # the coverage list


# ---------------------------------------------------------------- reports


def test_reports_json(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("reports", "--json", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert isinstance(rows, list) and len(rows) == 5
    assert [r["report_id"] for r in rows] == REPORT_IDS
    kb = validate.load(KNOWLEDGE)
    for row, report in zip(rows, kb.reports, strict=True):
        assert set(row) == {
            "report_id",
            "agency",
            "title",
            "year",
            "doc_type",
            "source_file",
            "passages",
        }
        assert type(row["passages"]) is int and row["passages"] == len(report.passages) > 0
        assert row["agency"] == report.agency and row["year"] == report.year
        assert row["source_file"] == report.source_file
    by_id = {r["report_id"]: r for r in rows}
    assert by_id["002_9e90b7df6a5084ed"]["agency"] == "舟山市科学技术局"
    assert by_id["004_44d86d126aed4ddd"]["year"] == 2023


def test_reports_plain(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("reports", env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 5
    assert [line.split("\t")[0] for line in lines] == REPORT_IDS
    assert "舟山市科学技术局" in lines[2]


def test_reports_on_a_broken_kb_fails_cleanly(run_cli: RunCli, kb_copy: Path) -> None:
    path = kb_copy / "reports" / "002_9e90b7df6a5084ed.yaml"
    text = path.read_text(encoding="utf-8")
    line = text.splitlines().index("year: 2020") + 1
    path.write_text(text.replace("year: 2020", "year: 20x0"), encoding="utf-8")
    res = run_cli("reports", env=env_for(kb_copy))
    assert res.returncode == 1
    assert res.stdout == ""
    assert "Traceback" not in res.stderr
    assert f"{path}:{line}: bad year '20x0'" in res.stderr


# ---------------------------------------------------------------- validate


def test_validate_bundled(run_cli: RunCli, shared_kb: Path) -> None:
    res = run_cli("validate", env=env_for(shared_kb))
    assert res.returncode == 0, res.stdout + res.stderr
    kb = validate.load(KNOWLEDGE)
    assert res.stdout.splitlines() == [
        f"ok: 5 reports, {kb.passage_count} passages, 0 facts in {shared_kb}"
    ]


def test_validate_reports_unknown_key(run_cli: RunCli, kb_copy: Path) -> None:
    path = kb_copy / "reports" / "002_9e90b7df6a5084ed.yaml"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("doc_type:"))
    lines.insert(at, "colour: red\n")
    path.write_text("".join(lines), encoding="utf-8")
    res = run_cli("validate", env=env_for(kb_copy))
    assert res.returncode == 1
    assert res.stdout.splitlines() == [f"{path}:{at + 1}: unknown key 'colour' in report"]
    assert "1 problem" in res.stderr


def test_validate_reports_several_files(run_cli: RunCli, kb_copy: Path) -> None:
    a = kb_copy / "reports" / "000_e1829581f26616c9.yaml"
    b = kb_copy / "reports" / "004_44d86d126aed4ddd.yaml"
    a.write_bytes(a.read_bytes().replace(b"report_id: 000", b"report_id: 001", 1))
    b.write_text("- a list\n", encoding="utf-8")
    res = run_cli("validate", env=env_for(kb_copy))
    assert res.returncode == 1
    out = res.stdout.splitlines()
    assert f"{b}:1: report must be a mapping" in out
    assert any(line.startswith(f"{a}:1: ") for line in out)
    assert all(re.match(r"^.+\.yaml:\d+: \S", line) for line in out)


# ---------------------------------------------------------------- ingest


def test_ingest_dry_run_writes_nothing(run_cli: RunCli, kb_copy: Path, ROOT: Path) -> None:
    raw = ROOT / "knowledge" / "sources" / "002_9e90b7df6a5084ed.txt"
    (kb_copy / "reports" / "002_9e90b7df6a5084ed.yaml").unlink()  # a dry run must not restore it
    (kb_copy / "sources" / "002_9e90b7df6a5084ed.txt").unlink()
    before = snapshot(kb_copy)
    res = run_cli("ingest", "--dry-run", "--title", "别的标题", str(raw), env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert "试运行" in res.stderr
    assert "002_9e90b7df6a5084ed" in res.stderr
    assert snapshot(kb_copy) == before


def test_ingest_same_file_is_idempotent(run_cli: RunCli, kb_copy: Path, ROOT: Path) -> None:
    before = snapshot(kb_copy)
    raw = ROOT / "knowledge" / "sources" / "002_9e90b7df6a5084ed.txt"
    res = run_cli("ingest", str(raw), env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert "已更新 002_9e90b7df6a5084ed" in res.stderr
    assert snapshot(kb_copy) == before
    # ingesting the copy kept in sources/ is the same no-op
    res = run_cli("ingest", str(kb_copy / "sources" / raw.name), env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert snapshot(kb_copy) == before


def test_ingest_same_file_keeps_recorded_flags(run_cli: RunCli, kb_copy: Path, ROOT: Path) -> None:
    before = snapshot(kb_copy)
    raw = ROOT / "knowledge" / "sources" / "001_f16e45e6654d40b6.txt"
    res = run_cli("ingest", str(raw), env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert snapshot(kb_copy) == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "为空"),
        ("blob.txt", bytes(range(256)) * 16, "二进制"),
        ("english.txt", b"Hello world.\nNo Chinese here at all.\n" * 5, "中文"),
        ("missing.txt", None, "missing.txt"),
    ],
    ids=["empty", "binary", "no-chinese", "missing"],
)
def test_ingest_bad_file(
    run_cli: RunCli, kb_copy: Path, tmp_path: Path, name: str, data: bytes | None, message: str
) -> None:
    raw = tmp_path / name
    if data is not None:
        raw.write_bytes(data)
    before = snapshot(kb_copy)
    res = run_cli("ingest", str(raw), env=env_for(kb_copy))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("错误")]
    assert len(errors) == 1
    assert name in errors[0] and message in errors[0]
    assert snapshot(kb_copy) == before


def test_ingest_a_bad_file_among_good_ones(
    run_cli: RunCli, kb_copy: Path, tmp_path: Path, ROOT: Path
) -> None:
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    new = tmp_path / "ningbo_caizheng_2021.txt"
    new.write_bytes(NINGBO.encode("utf-8"))
    res = run_cli("ingest", str(bad), str(new), env=env_for(kb_copy))
    assert res.returncode == 1
    assert "失败 1 个" in res.stderr
    assert (kb_copy / "reports" / "ningbo_caizheng_2021.yaml").exists()
    assert not (kb_copy / "sources" / "empty.txt").exists()


NINGBO = """\
宁波市财政局2021年法治政府建设工作总结

一、主要工作
2021年，我局认真贯彻落实法治政府建设各项部署，全年共组织集体学法12次，开展普法宣传活动36场。
全年办理行政复议案件3件，行政诉讼案件2件，均依法妥善处理。政府信息主动公开418条，依申请公开办结27件。
二、存在问题
法治宣传的针对性还需进一步增强，执法人员专业能力有待提高，财政执法人员持证率为96%。
三、下一步工作
2022年，我局将继续深化财政领域法治建设，完善重大行政决策程序，提升依法理财水平。

宁波市财政局
2022年1月20日
"""


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"])
def test_ingest_new_report(run_cli: RunCli, kb_copy: Path, tmp_path: Path, encoding: str) -> None:
    raw = tmp_path / "ningbo_caizheng_2021.txt"
    raw.write_bytes(NINGBO.replace("\n", "\r\n").encode(encoding))
    before = snapshot(kb_copy)
    res = run_cli("ingest", str(raw), env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert "已写入 ningbo_caizheng_2021" in res.stderr
    after = snapshot(kb_copy)
    added = sorted(set(after) - set(before))
    history = [k for k in snapshot(kb_copy, history=True) if k.startswith(".history/")]
    assert [k for k in added if k not in history] == [
        "reports/ningbo_caizheng_2021.yaml",
        "sources/ningbo_caizheng_2021.txt",
    ]
    assert ".history/audit.jsonl" in history  # the change is recorded
    assert all(after[k] == v for k, v in before.items())  # nothing else changed
    assert after["sources/ningbo_caizheng_2021.txt"] == raw.read_bytes()
    kb = validate.load(kb_copy)
    assert len(kb.reports) == 6
    report = kb.report("ningbo_caizheng_2021")
    assert report is not None
    assert report.agency == "宁波市财政局"
    assert report.year == 2021
    assert report.source_file == "ningbo_caizheng_2021.txt"
    assert any("12次" in p.text for p in report.passages)
    assert all("\r" not in p.text for p in report.passages)

    res = run_cli("ask", "--json", "宁波市财政局2021年组织集体学法多少次？", env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    [obj] = json_lines(res.stdout)
    assert obj["answered"] is True
    best = obj["results"][0]
    assert best["report_id"] == "ningbo_caizheng_2021"
    assert best["agency"] == "宁波市财政局"
    assert "12次" in best["sentence"]
    # and the old reports still answer
    res = run_cli("ask", "--json", "上城区发改局开展各类信用宣传活动多少次？", env=env_for(kb_copy))
    [obj] = json_lines(res.stdout)
    assert obj["results"][0]["report_id"] == "004_44d86d126aed4ddd"


# ---------------------------------------------------------------- rebuild


def test_rebuild_is_byte_identical(run_cli: RunCli, kb_copy: Path) -> None:
    before = snapshot(kb_copy)
    assert sum(k.startswith("reports/") for k in before) == 5
    res = run_cli("rebuild", env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert "重建 5 份报告" in res.stderr
    assert snapshot(kb_copy) == before


def test_rebuild_restores_lost_and_edited_reports(run_cli: RunCli, kb_copy: Path) -> None:
    before = snapshot(kb_copy)
    (kb_copy / "reports" / "002_9e90b7df6a5084ed.yaml").unlink()
    edited = kb_copy / "reports" / "000_e1829581f26616c9.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("year: 2020", "year: 2019"))
    res = run_cli("rebuild", env=env_for(kb_copy))
    assert res.returncode == 0, res.stderr
    assert snapshot(kb_copy) == before


def test_rebuild_repairs_a_corrupted_report(run_cli: RunCli, kb_copy: Path) -> None:
    before = snapshot(kb_copy)
    broken = kb_copy / "reports" / "003_08822b4da40a8511.yaml"
    broken.write_bytes(broken.read_bytes() + b"broken \xff\n")
    res = run_cli("rebuild", env=env_for(kb_copy))
    assert "Traceback" not in res.stderr
    assert res.returncode == 0
    assert snapshot(kb_copy) == before


# ---------------------------------------------------------------- eval

GOLD = """\
- id: t1
  question: 舟山市科技局2020年在市政府信息公开网站公开信息数是多少条？
  source: 002_9e90b7df6a5084ed.txt
  agency: 舟山市科学技术局
  evidence: 在市政府信息公开网站公开信息数320条
  answer: 320条
  style: direct
- id: t2
  question: 上城区发改局开展各类信用宣传活动多少次？
  source: 004_44d86d126aed4ddd.txt
  agency: 杭州市上城区发展改革和经济信息化局
  evidence: 组织开展各类信用宣传活动47次
  answer: 47次
  style: short
- id: t3
  question: 宁波市财政局2020年公开了多少条信息？
  source: null
  agency: null
  evidence: null
  answer: null
  style: unanswerable
"""


def test_eval_table(run_cli: RunCli, shared_kb: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.yaml"
    gold.write_text(GOLD, encoding="utf-8")
    res = run_cli("eval", str(gold), env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["style", "n", "hit@1", "hit@3", "MRR", "acc"]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line and line[0].isalpha()}
    assert rows["overall"] == ["3", "1.000", "1.000", "1.000", "1.000"]
    assert rows["direct"] == ["1", "1.000", "1.000", "1.000", "1.000"]
    assert rows["short"] == ["1", "1.000", "1.000", "1.000", "1.000"]
    assert rows["unanswerable"] == ["1", "-", "-", "-", "1.000"]
    assert lines[-1].startswith("overall")


def test_eval_counts_misses(run_cli: RunCli, shared_kb: Path, tmp_path: Path) -> None:
    wrong = GOLD.replace("公开信息数320条", "公开信息数999条").replace(
        "source: null", "source: x.txt"
    )
    wrong = wrong.replace("evidence: null", "evidence: 不存在的证据")
    gold = tmp_path / "gold.yaml"
    gold.write_text(wrong, encoding="utf-8")
    res = run_cli("eval", "--verbose", str(gold), env=env_for(shared_kb))
    assert res.returncode == 0, res.stderr
    assert "misses:" in res.stdout
    overall = res.stdout.splitlines()[-1].split()
    assert overall[0] == "overall"
    assert overall[1:] == ["3", "0.333", "0.333", "0.333", "0.333"]


def test_facts_remove_history_and_undo_from_the_shell(run_cli: RunCli, kb_copy: Path) -> None:
    env = env_for(kb_copy)
    res = run_cli(
        "facts",
        "add",
        "--question",
        "舟山科技局的邮箱是什么",
        "--answer",
        "kjj@example.org",
        "--report",
        "002_9e90b7df6a5084ed",
        "--alt",
        "舟山科技局 邮箱",
        env=env,
    )
    assert res.returncode == 0 and "f1" in res.stderr, res.stderr
    listed = json.loads(run_cli("facts", "list", "--json", env=env).stdout)
    assert [(f["id"], f["alternatives"]) for f in listed] == [("f1", ["舟山科技局 邮箱"])]
    answer = json.loads(run_cli("ask", "--json", "舟山科技局的邮箱是什么？", env=env).stdout)
    assert answer["answered"] and answer["results"][0]["sentence"] == "kjj@example.org"
    bad = run_cli("facts", "add", "--question", "q", "--answer", "a", "--report", "nope", env=env)
    assert bad.returncode == 1 and "nope" in bad.stderr
    assert run_cli("remove", "004_44d86d126aed4ddd", env=env).returncode == 0
    assert not (kb_copy / "reports" / "004_44d86d126aed4ddd.yaml").exists()
    history = run_cli("history", env=env).stdout
    assert "add-fact" in history and "remove-report" in history
    assert run_cli("undo", env=env).returncode == 0  # the removal
    assert (kb_copy / "reports" / "004_44d86d126aed4ddd.yaml").exists()
    assert run_cli("facts", "remove", "f1", env=env).returncode == 0
    assert json.loads(run_cli("facts", "list", "--json", env=env).stdout) == []
