"""Unit tests of reportqa.kb (schema, layout, validate): schema checks with path:line messages, round trips, atomic
writes. Every knowledge folder here is a tiny literal one in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportqa.kb import layout, schema, validate
from reportqa.kb.schema import KnowledgeError, Problem
from reportqa.models import Fact, Passage, Report

# A valid report; line numbers of this text are used below (report_id is line 1).
VALID = """\
report_id: r1
title: 测试报告2020年工作总结
agency: 测试市测试局
agency_short:
- 测试局
region:
- 测试省
year: 2020
published: '2021-01-25'
doc_type: 工作总结
source_file: r1.txt
script: simplified
passages:
- id: r1-a
  section:
  - 一、主要工作
  text: 第一段内容，共有12项。
- id: r1-b
  section: []
  text: 第二段内容。
"""

OTHER = """\
report_id: r2
title: 另一份报告
agency: 另一市另一局
year: 2021
doc_type: 工作要点
source_file: r2.txt
passages:
- id: r2-a
  text: 另一份报告的内容。
"""


def make_kb(tmp_path: Path, files: dict[str, str | bytes], facts: str | None = None) -> Path:
    """A knowledge folder with reports/<name> for each entry (and facts.yaml if given)."""
    folder = tmp_path / "kb"
    (folder / "reports").mkdir(parents=True)
    for name, content in files.items():
        path = folder / "reports" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if facts is not None:
        (folder / "facts.yaml").write_text(facts, encoding="utf-8")
    return folder


def problems_of(tmp_path: Path, files: dict[str, str | bytes], facts: str | None = None):
    kb, problems = validate.check(make_kb(tmp_path, files, facts))
    assert kb is None, "a knowledge folder with a problem must not load"
    assert problems, "validate returned no knowledge base but no problem either"
    return problems


def reports_path(tmp_path: Path, name: str) -> str:
    return str(tmp_path / "kb" / "reports" / name)


def one(problems: list[Problem], fragment: str) -> Problem:
    found = [p for p in problems if fragment in p.message]
    assert len(found) == 1, f"expected one problem about {fragment!r}, got {problems}"
    return found[0]


def line_of(text: str, fragment: str) -> int:
    """1-based number of the first line of `text` containing `fragment`."""
    for n, line in enumerate(text.splitlines(), 1):
        if fragment in line:
            return n
    raise AssertionError(fragment)


def sample_report() -> Report:
    return Report(
        report_id="r-round",
        title="舟山市测试局2020年工作总结",
        agency="舟山市测试局",
        year=2020,
        doc_type="工作总结",
        source_file="r-round.txt",
        passages=(
            Passage("r-round-1", ("文件信息",), "舟山市测试局2020年工作总结\n发布日期:2021-01-25"),
            Passage("r-round-2", ("一、主要工作", "(一)学法"), "全年学法8次: 合格率100%。"),
            Passage("r-round-3", (), "  前后有空格的文字  "),
            Passage("r-round-4", ("null",), "yes"),  # YAML 1.1 booleans and nulls stay text
            Passage("r-round-5", ("# 不是注释",), "- 不是列表\n  缩进的第二行\n"),
            Passage("r-round-6", ("二、",), "2020"),  # a number-looking text stays a string
        ),
        agency_short=("市测试局", "测试局"),
        region=("浙江省", "舟山市"),
        published="2021-01-25",
        script="traditional",
    )


# ---------------------------------------------------------------- valid files and round trips


def test_valid_folder_loads(tmp_path: Path) -> None:
    kb = validate.load(make_kb(tmp_path, {"r1.yaml": VALID, "r2.yaml": OTHER}))
    assert [r.report_id for r in kb.reports] == ["r1", "r2"]
    r1 = kb.report("r1")
    assert r1 is not None
    assert r1.year == 2020
    assert r1.agency_short == ("测试局",)
    assert r1.published == "2021-01-25"
    assert r1.passages[0] == Passage("r1-a", ("一、主要工作",), "第一段内容，共有12项。")
    assert r1.passages[1].section == ()
    r2 = kb.report("r2")
    assert r2 is not None
    assert r2.script == "simplified"  # the default
    assert r2.region == ()
    assert r2.passages[0].section == ()
    assert kb.passage_count == 3


def test_dump_parse_round_trip() -> None:
    report = sample_report()
    text = schema.dump_report(report)
    problems: list[Problem] = []
    again = schema.parse_report(text, "r-round.yaml", problems)
    assert problems == []
    assert again == report


def test_dump_is_deterministic() -> None:
    first = schema.dump_report(sample_report()).encode("utf-8")
    second = schema.dump_report(sample_report()).encode("utf-8")
    assert first == second
    assert first.startswith(b"report_id: r-round\n")
    assert "舟山市测试局".encode() in first  # allow_unicode: no \u escapes


def test_dumped_report_validates_as_a_file(tmp_path: Path) -> None:
    report = sample_report()
    kb = validate.load(make_kb(tmp_path, {"r-round.yaml": schema.dump_report(report)}))
    assert kb.reports == (report,)


_text = st.text(min_size=1).filter(lambda s: s.strip() != "")


@settings(max_examples=150, deadline=None)
@given(
    title=_text,
    text=_text,
    section=st.lists(_text, max_size=3),
    year=st.none() | st.integers(1949, 2100),
)
def test_round_trip_any_text(title: str, text: str, section: list[str], year: int | None) -> None:
    report = Report(
        "r1", title, "测试局", year, "总结", "r1.txt", (Passage("p1", tuple(section), text),)
    )
    problems: list[Problem] = []
    assert schema.parse_report(schema.dump_report(report), "r1.yaml", problems) == report
    assert problems == []


# ---------------------------------------------------------------- problems with file:line


def test_problem_format() -> None:
    assert str(Problem("a/b.yaml", 7, "bad thing")) == "a/b.yaml:7: bad thing"


def test_unknown_key_names_its_line(tmp_path: Path) -> None:
    text = VALID.replace("year: 2020\n", "year: 2020\ncolour: red\n")
    problems = problems_of(tmp_path, {"r1.yaml": text})
    p = one(problems, "unknown key 'colour'")
    assert p.path == reports_path(tmp_path, "r1.yaml")
    assert p.line == line_of(text, "colour:") == 9
    assert str(p).startswith(f"{p.path}:9: ")


def test_unknown_key_in_a_passage(tmp_path: Path) -> None:
    text = VALID.replace("  text: 第二段内容。\n", "  text: 第二段内容。\n  page: 3\n")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "unknown key 'page'")
    assert p.line == line_of(text, "page: 3")


def test_missing_agency(tmp_path: Path) -> None:
    text = VALID.replace("agency: 测试市测试局\n", "")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "missing agency")
    assert p.path == reports_path(tmp_path, "r1.yaml")
    assert p.line == 1  # the report mapping starts on line 1


def test_missing_passage_text_names_the_passage(tmp_path: Path) -> None:
    text = VALID.replace("  text: 第二段内容。\n", "")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "missing text in passage")
    assert p.line == line_of(text, "id: r1-b")


@pytest.mark.parametrize(
    ("value", "shown"), [("20x0", "'20x0'"), ("3000", "3000"), ("1900", "1900")]
)
def test_bad_year(tmp_path: Path, value: str, shown: str) -> None:
    text = VALID.replace("year: 2020", f"year: {value}")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "bad year")
    assert p.message == f"bad year {shown}"
    assert p.line == line_of(text, "year:") == 8


def test_year_may_be_null(tmp_path: Path) -> None:
    kb = validate.load(make_kb(tmp_path, {"r1.yaml": VALID.replace("year: 2020", "year: null")}))
    assert kb.reports[0].year is None


def test_duplicate_passage_id_in_one_file(tmp_path: Path) -> None:
    text = VALID.replace("- id: r1-b", "- id: r1-a")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "duplicate passage id 'r1-a'")
    assert p.line == 18  # the second passage
    assert "first at line 14" in p.message


def test_same_passage_id_in_two_files(tmp_path: Path) -> None:
    other = OTHER.replace("id: r2-a", "id: r1-a")
    problems = problems_of(tmp_path, {"r1.yaml": VALID, "r2.yaml": other})
    p = one(problems, "passage id 'r1-a' also in")
    assert p.path == reports_path(tmp_path, "r2.yaml")
    assert reports_path(tmp_path, "r1.yaml") in p.message


def test_same_passage_id_in_two_files_names_the_passage_line(tmp_path: Path) -> None:
    other = OTHER.replace("id: r2-a", "id: r1-a")
    p = one(problems_of(tmp_path, {"r1.yaml": VALID, "r2.yaml": other}), "also in")
    assert p.line == line_of(other, "id: r1-a") == 8


def test_duplicate_report_id_across_files(tmp_path: Path) -> None:
    copy = VALID.replace("r1-a", "c-a").replace("r1-b", "c-b")
    problems = problems_of(tmp_path, {"r1.yaml": VALID, "r1-copy.yaml": copy})
    p = one(problems, "duplicate report_id 'r1'")
    assert p.path == reports_path(tmp_path, "r1.yaml")
    assert p.line == 1  # report_id is on line 1
    assert reports_path(tmp_path, "r1-copy.yaml") in p.message  # names the other file
    mismatch = one(problems, "file name must be r1.yaml")
    assert mismatch.path == reports_path(tmp_path, "r1-copy.yaml")


@pytest.mark.parametrize("empty", ["''", '"   "', "'\u3000'"])
def test_empty_passage_text(tmp_path: Path, empty: str) -> None:
    text = VALID.replace("  text: 第二段内容。", f"  text: {empty}")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "passage text")
    assert p.message == "empty passage text"
    assert p.line == 20


def test_null_passage_text(tmp_path: Path) -> None:
    text = VALID.replace("  text: 第二段内容。", "  text:")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "passage text")
    assert p.message == "passage text must be text"
    assert p.line == 20


def test_passage_text_that_is_a_list(tmp_path: Path) -> None:
    text = VALID.replace("  text: 第二段内容。", "  text: [a, b]")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "passage text")
    assert p.message == "passage text must be text"
    assert p.line == 20


def test_broken_utf8_names_the_line(tmp_path: Path) -> None:
    data = VALID.encode("utf-8").replace("agency: 测试市".encode(), b"agency: \xff")
    assert data.split(b"\n")[2].startswith(b"agency: \xff")  # the bad byte is on line 3
    problems = problems_of(tmp_path, {"r1.yaml": data})
    assert [(p.path, p.line) for p in problems] == [(reports_path(tmp_path, "r1.yaml"), 3)]
    assert "UTF-8" in problems[0].message


def test_broken_utf8_on_line_one(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": b"\xfe\xff" + VALID.encode("utf-16-be")})
    assert [p.line for p in problems] == [1]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (VALID.replace("title: 测试报告2020年工作总结", "title: &t 测试报告"), 2),
        (VALID.replace("agency: 测试市测试局", "agency: *t"), 3),
        (VALID.replace("passages:\n- id: r1-a", "passages:\n- &p\n  id: r1-a"), 14),
        (VALID + "extra: *p\n", 21),
    ],
    ids=["anchor", "alias", "anchored-mapping", "alias-at-end"],
)
def test_anchors_and_aliases_refused(tmp_path: Path, text: str, line: int) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": text})
    assert [(p.line, p.message) for p in problems] == [
        (line, "YAML anchors and aliases are not allowed")
    ]


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lol = ["a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lol.append(f"{name}: &{name} [{','.join('*' + prev for _ in range(9))}]")
    p = problems_of(tmp_path, {"r1.yaml": "\n".join(lol) + "\n"})[0]
    assert (p.line, p.message) == (1, "YAML anchors and aliases are not allowed")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("report_id: r1\ntitle: a: b\nagency: x\n", 2),
        ("report_id: r1\npassages:\n- id: a\n  text: [unclosed\n", 5),
        ("report_id: r1\n\tagency: tab\n", 2),
    ],
    ids=["mapping-in-scalar", "unclosed-flow", "tab-indent"],
)
def test_invalid_yaml_syntax(tmp_path: Path, text: str, line: int) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": text})
    assert len(problems) == 1
    assert problems[0].message.startswith("invalid YAML: ")
    assert problems[0].line == line


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a sentence\n", "42\n", "[1, 2]\n"])
def test_not_a_report(tmp_path: Path, text: str) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": text})
    assert [(p.line, p.message) for p in problems] == [(1, "report must be a mapping")]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_not_a_report(tmp_path: Path, text: str) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": text})
    assert [(p.line, p.message) for p in problems] == [(1, "empty file: not a report")]


def test_binary_file_with_invalid_utf8(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256))
    problems = problems_of(tmp_path, {"x.yaml": png})
    assert len(problems) == 1
    assert problems[0].path == reports_path(tmp_path, "x.yaml")
    assert problems[0].line == 1
    assert "UTF-8" in problems[0].message


def test_binary_file_of_control_bytes_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"x.yaml": bytes(range(32)) * 4})
    assert len(problems) == 1
    assert problems[0].path == reports_path(tmp_path, "x.yaml")
    assert "invalid YAML" in problems[0].message


def test_binary_file_of_control_bytes_names_a_line(tmp_path: Path) -> None:
    data = b"report_id: r1\ntitle: x\n" + b"agency: \x00\x01\x02\n"
    problems = problems_of(tmp_path, {"x.yaml": data})
    assert len(problems) == 1
    assert problems[0].line == 3
    assert "\n" not in str(problems[0])


def test_file_name_must_match_report_id(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"wrong-name.yaml": VALID})
    assert [(p.path, p.line, p.message) for p in problems] == [
        (reports_path(tmp_path, "wrong-name.yaml"), 1, "file name must be r1.yaml")
    ]


@pytest.mark.parametrize("bad", ["'has space'", "'-leading'", "'a/b'", "'报告'"])
def test_bad_report_id(tmp_path: Path, bad: str) -> None:
    text = VALID.replace("report_id: r1", f"report_id: {bad}")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "bad report_id")
    assert p.line == 1


def test_published_must_be_a_date(tmp_path: Path) -> None:
    text = VALID.replace("published: '2021-01-25'", "published: 2021年1月")
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "published")
    assert p.line == 9


def test_passages_must_be_a_non_empty_list(tmp_path: Path) -> None:
    text = VALID.split("passages:")[0] + "passages: []\n"
    p = one(problems_of(tmp_path, {"r1.yaml": text}), "passages must be a non-empty list")
    assert p.line == 13


def test_problems_in_several_files_are_all_reported(tmp_path: Path) -> None:
    bad1 = VALID.replace("year: 2020", "year: 3000")
    bad2 = OTHER.replace("agency: 另一市另一局\n", "")
    problems = problems_of(tmp_path, {"r1.yaml": bad1, "r2.yaml": bad2})
    assert {(Path(p.path).name, p.line) for p in problems} == {("r1.yaml", 8), ("r2.yaml", 1)}


# ---------------------------------------------------------------- facts.yaml

FACTS = """\
facts:
- id: f1
  question: 测试局2020年学法几次？
  alternatives:
  - 测试局学法次数
  - 学法多少次
  answer: 8次。
  report_id: r1
  section: 一、主要工作
- id: f2
  question: 另一局的要点是什么？
  answer: 见正文。
  report_id: r2
"""


def test_facts_parse_alternatives_and_optional_section(tmp_path: Path) -> None:
    kb = validate.load(make_kb(tmp_path, {"r1.yaml": VALID, "r2.yaml": OTHER}, FACTS))
    assert kb.facts == (
        Fact(
            "f1",
            "测试局2020年学法几次？",
            "8次。",
            "r1",
            ("测试局学法次数", "学法多少次"),
            "一、主要工作",
        ),
        Fact("f2", "另一局的要点是什么？", "见正文。", "r2", (), ""),
    )


def test_dump_facts_round_trip() -> None:
    facts = (
        Fact("f1", "问题一？", "答案一。", "r1", ("别的问法", "yes"), "一、主要工作"),
        Fact("f2", "问题二？", "多行\n答案", "r2"),
    )
    text = schema.dump_facts(facts)
    assert text == schema.dump_facts(facts)
    problems: list[Problem] = []
    assert schema.parse_facts(text, "facts.yaml", problems) == facts
    assert problems == []
    assert "alternatives" not in text.split("id: f2")[1]  # empty optional fields are left out
    assert "section" not in text.split("id: f2")[1]


def test_empty_facts_file_section(tmp_path: Path) -> None:
    kb = validate.load(make_kb(tmp_path, {"r1.yaml": VALID}, "facts:\n"))
    assert kb.facts == ()


def test_fact_naming_an_unknown_report(tmp_path: Path) -> None:
    facts = FACTS.replace("report_id: r2", "report_id: nosuch")
    problems = problems_of(tmp_path, {"r1.yaml": VALID, "r2.yaml": OTHER}, facts)
    p = one(problems, "unknown report 'nosuch'")
    assert p.path == str(tmp_path / "kb" / "facts.yaml")
    assert "'f2'" in p.message


def test_fact_naming_an_unknown_report_names_its_line(tmp_path: Path) -> None:
    facts = FACTS.replace("report_id: r2", "report_id: nosuch")
    p = one(problems_of(tmp_path, {"r1.yaml": VALID, "r2.yaml": OTHER}, facts), "unknown report")
    assert p.line == line_of(facts, "report_id: nosuch") == 13


def test_fact_problems(tmp_path: Path) -> None:
    facts = FACTS.replace("id: f2", "id: f1").replace("  answer: 见正文。\n", "  colour: red\n")
    problems = problems_of(tmp_path, {"r1.yaml": VALID, "r2.yaml": OTHER}, facts)
    assert one(problems, "duplicate fact id 'f1'").line == 10
    assert one(problems, "unknown key 'colour' in fact").line == 12
    assert one(problems, "missing answer in fact").line == 10


def test_facts_file_that_is_a_list(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, {"r1.yaml": VALID}, "- a\n- b\n")
    assert [(Path(p.path).name, p.line, p.message) for p in problems] == [
        ("facts.yaml", 1, "facts file must be a mapping")
    ]


# ---------------------------------------------------------------- load()


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "r1.yaml": VALID.replace("year: 2020", "year: 20x0").replace("doc_type", "colour"),
        "r2.yaml": OTHER.replace("agency: 另一市另一局\n", ""),
        "r3.yaml": b"report_id: r3\n\xff\n",
        "r4.yaml": "- not\n- a report\n",
    }
    folder = make_kb(tmp_path, files)
    _, expected = validate.check(folder)
    assert len(expected) >= 5
    with pytest.raises(KnowledgeError) as err:
        validate.load(folder)
    message = str(err.value)
    for p in expected:
        assert str(p) in message
    assert sorted(err.value.problems) == sorted(expected)
    assert message.splitlines() == [str(p) for p in sorted(expected)]


def test_load_message_does_not_silently_drop_problems(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        f"r{i:02d}.yaml": VALID.replace("report_id: r1", f"report_id: r{i:02d}")
        .replace("r1-", f"r{i:02d}-")
        .replace("year: 2020", "year: 3000")
        for i in range(25)
    }
    with pytest.raises(KnowledgeError) as err:
        validate.load(make_kb(tmp_path, files))
    assert len(err.value.problems) == 25
    message = str(err.value)
    omitted = [p for p in err.value.problems if str(p) not in message]
    notes = [line for line in message.splitlines() if not line.startswith(str(tmp_path))]
    assert not omitted or any(str(len(omitted)) in note for note in notes)


def test_missing_reports_folder_is_an_empty_kb(tmp_path: Path) -> None:
    kb = validate.load(tmp_path)
    assert kb.reports == ()


# ---------------------------------------------------------------- atomic_write


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_writes_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r1.yaml"
    layout.atomic_write(target, "新内容\n")
    assert target.read_bytes() == "新内容\n".encode()
    layout.atomic_write(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert leftovers(target.parent) == []
    assert sorted(p.name for p in target.parent.iterdir()) == ["r1.yaml"]


def test_atomic_write_failure_keeps_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r1.yaml"
    target.write_text("旧内容\n", encoding="utf-8")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(layout.os, "replace", broken_replace)
    with pytest.raises(OSError):
        layout.atomic_write(target, "新内容\n")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "旧内容\n"
    assert leftovers(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["r1.yaml"]


def test_atomic_write_failure_while_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r1.yaml"
    target.write_text("旧内容\n", encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(layout.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        layout.atomic_write(target, "新内容\n")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "旧内容\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r1.yaml"]


def test_atomic_write_replaces_a_read_only_file(tmp_path: Path) -> None:
    target = tmp_path / "r1.yaml"
    target.write_text("旧内容\n", encoding="utf-8")
    os.chmod(target, 0o444)
    layout.atomic_write(target, "新内容\n")
    assert target.read_text(encoding="utf-8") == "新内容\n"


def test_a_fact_as_plain_data_and_back() -> None:
    from reportqa.kb.schema import fact_from_dict, fact_to_dict
    from reportqa.models import Fact

    full = Fact("f1", "问题", "答案", "r1", ("别的问法",), "一、")
    bare = Fact("f2", "问题", "答案", "r1")
    assert fact_from_dict(fact_to_dict(full)) == full
    assert fact_from_dict(fact_to_dict(bare, compact=True)) == bare
    assert list(fact_to_dict(bare, compact=True)) == ["id", "question", "answer", "report_id"]
    assert list(fact_to_dict(full)) == [
        "id",
        "question",
        "alternatives",
        "answer",
        "report_id",
        "section",
    ]
