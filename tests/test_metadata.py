"""Metadata of real reports of many genres (reportqa.metadata through reportqa.ingest), on ten
documents of the development corpus kept in tests/data/corpus, and small literal texts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import RunCli

from reportqa import metadata
from reportqa.extract import extract_text
from reportqa.ingest import inferred_title, ingest_text

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
with (CORPUS / "INDEX.tsv").open(encoding="utf-8", newline="") as _f:
    INDEX = {row["file"]: row for row in csv.DictReader(_f, delimiter="\t")}
# Texts without a title line: 「现将有关情况报告如下」, 「各位代表：」.
NO_TITLE_LINE = {"dev_002.txt", "dev_019.txt", "dev_030.txt"}


@pytest.mark.parametrize("name", sorted(INDEX))
def test_real_documents_get_their_agency_year_type_and_title(name: str) -> None:
    truth = INDEX[name]
    result = ingest_text(extract_text((CORPUS / name).read_bytes(), name), name)
    r = result.report
    assert r.agency == truth["agency"]
    assert r.year == int(truth["year"])
    assert r.doc_type == truth["doc_type"]
    if name in NO_TITLE_LINE:
        # never a body sentence: a title in the usual form, and the admin asked for the real one
        assert r.title == inferred_title(r.agency, r.year, r.doc_type)
        assert "title" in result.needs_flag
    else:
        assert r.title.replace(" ", "") == truth["title"].replace(" ", "")


def test_the_harness_ingests_a_folder_and_scores_it(run_cli: RunCli, tmp_path: Path) -> None:
    gold = tmp_path / "gold.yaml"
    gold.write_text(
        json.dumps(
            [
                {
                    "id": "t1",
                    "question": "阜平县2012年易地搬迁了多少户？",
                    "source": "dev_012.txt",
                    "agency": "阜平县人民政府",
                    "evidence": "易地搬迁516户1960人",
                    "answer": "516户",
                    "style": "direct",
                },
                {
                    "id": "t2",
                    "question": "阜平县2012年建了几座核电站？",
                    "source": None,
                    "agency": None,
                    "evidence": None,
                    "answer": None,
                    "style": "unanswerable",
                },
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    done = run_cli("eval", str(gold), "--ingest", str(CORPUS), "--index", str(CORPUS / "INDEX.tsv"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "ingest: 12 files: 12 ingested (3 needing a flag), 0 refused" in out
    assert "agency           12    12   1.000" in out
    assert "doc_type         12    12   1.000" in out
    # the three without a title line get one inferred; the index words one of them otherwise
    assert "title            10    12   0.833" in out
    assert "overall" in out


@pytest.mark.parametrize(
    ("title", "text", "kind"),
    [
        ("2021年保定市政府工作报告", "", "政府工作报告"),
        ("洪泽区人民政府2023年政府信息公开工作年度报告", "", "政府信息公开年度报告"),
        ("关于印发2020年法治政府建设工作要点的通知", "", "工作要点"),
        ("2020年度法治政府建设工作总结", "", "工作总结"),
        ("深圳市光明区人民政府关于2021年度法治政府建设情况的报告", "", "法治政府建设年度报告"),
        ("上海市普陀区2025年区级部门预算", "", "其他"),
        (
            "",
            "各位代表：\n现在，我代表区人民政府向大会作工作报告。\n一、2018年工作回顾\n",
            "政府工作报告",
        ),
        ("", "一、2018年工作回顾\n2018年，全县上下……", "政府工作报告"),
        ("", "今天天气很好。", None),
    ],
)
def test_doc_type(title: str, text: str, kind: str | None) -> None:
    assert metadata.doc_type(title, text) == kind


def test_literal_escapes_and_entities_of_exports_are_undone() -> None:
    raw = "政府工作报告\\r\\n2005年2月26日\\r\\n各位代表：\\r\\n&nbsp;现在????，我代表"
    assert metadata.unescape(raw) == "政府工作报告\n2005年2月26日\n各位代表：\n\xa0现在 ，我代表"
    assert metadata.unescape("a\\nb") == "a\\nb"  # one is no export convention


@pytest.mark.parametrize(
    ("head", "text", "place"),
    [
        (["——2013年3月8日在阜平县第十六届人民代表大会第二次会议上"], "", ("阜平县", None)),
        (["徐水县人民政府县长李保森"], "", ("徐水县", None)),
        ([], "各位代表：\n现在，我代表清苑县人民政府向大会报告工作", ("清苑县", None)),
        ([], "各位代表：\n现在，我代表县人民政府向大会报告工作", (None, "县")),
        (["2019年1月29日保定市徐水区第二届人民代表大会第三次会议"], "", ("保定市徐水区", None)),
    ],
)
def test_government_place(head: list[str], text: str, place: tuple[str | None, str | None]) -> None:
    assert metadata.government_place("", head, text) == place


def test_report_year_of_a_speech() -> None:
    gov = metadata.GOV_WORK_REPORT
    assert metadata.report_year("2021年保定市政府工作报告", [], "", gov) == 2021
    head = ["——2013年3月8日在阜平县第十六届人民代表大会第二次会议上"]
    assert metadata.report_year("", head, "", gov) == 2013
    assert metadata.report_year("", [], "一、2018年工作回顾\n……\n二、2019年工作安排\n", gov) == 2019
    assert metadata.report_year("", [], "一、2018年工作回顾\n去年……", gov) == 2019
    assert metadata.report_year("", [], "一、2018年工作回顾", "工作总结") is None


def test_session_suffix_and_dated_session() -> None:
    assert (
        metadata.drop_session_suffix("关于纲要的报告——在保定市第十三届人民代表大会第四次会议上")
        == "关于纲要的报告"
    )
    kept = "坚定信心——在保定市第十三届人民代表大会第二次会议上的政府工作报告"
    assert metadata.drop_session_suffix(kept) == kept
    head = ["政府工作报告", "——在顺平县第十五届人民代表大会第二次会议上", "（2008年3月27日）"]
    assert (
        metadata.dated_session("在顺平县第十五届人民代表大会第二次会议上", head)
        == "2008年3月27日在顺平县第十五届人民代表大会第二次会议上"
    )


def test_inferred_title_follows_the_usual_form() -> None:
    assert inferred_title("容城县人民政府", 2019, "政府工作报告") == "容城县2019年政府工作报告"
    assert (
        inferred_title("深圳市光明区人民政府", 2021, "法治政府建设年度报告")
        == "深圳市光明区人民政府2021年法治政府建设年度报告"
    )
    # nothing to build it from: stays unknown
    assert inferred_title("", 2019, "政府工作报告") is None
    assert inferred_title("容城县人民政府", None, "政府工作报告") is None
    assert inferred_title("郑州市司法局", 2020, "其他") is None


def test_divisions_are_current_and_keep_names_no_longer_in_use() -> None:
    from reportqa.places import gazetteer

    gaz = gazetteer()
    # districts created since 2016: 坪山区 and 光明区 in 深圳; 龙华区 both in 深圳 and 海口
    for name in ("坪山区", "光明区"):
        (place,) = gaz.by_name[name]
        assert [p.name for p in gaz.chain(place)] == ["广东省", "深圳市", name]
    cities = {gaz.chain(p)[1].name for p in gaz.by_name["龙华区"]}
    assert cities == {"深圳市", "海口市"}
    assert [p.name for p in gaz.chain(gaz.by_name["雄安新区"][0])] == ["河北省", "雄安新区"]
    # a county since merged into a city: older reports still name it
    assert [p.name for p in gaz.chain(gaz.by_name["滦县"][0])] == ["河北省", "唐山市", "滦县"]
    # a province-level city is one place, not also a city below itself
    assert [p.name for p in gaz.by_name["北京市"]] == ["北京市"]
    assert [p.name for p in gaz.chain(gaz.by_name["东城区"][0])] == ["北京市", "东城区"]
