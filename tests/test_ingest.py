"""Ingest: the five bundled raw reports, and small messy texts written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportqa.extract import extract_text
from reportqa.ingest import IngestFailed, Overrides, ingest_text
from reportqa.kb import schema
from reportqa.normalize import squeeze

SOURCES = Path(__file__).resolve().parent.parent / "knowledge" / "sources"
DEBRIS = (
    "当前位置",
    "打印本页",
    "关闭窗口",
    "浏览次数",
    "瀏覽次數",
    "Produced By",
    "大汉网络",
    "大漢網絡",
    "GOVERNMENT INFORMATION",
    "腾博",
    "字号",
    "關閉",
    "打印",
)


def ingest_source(name: str, **flags: object):  # type: ignore[no-untyped-def]
    return ingest_text(extract_text((SOURCES / name).read_bytes(), name), name, Overrides(**flags))  # type: ignore[arg-type]


EXPECTED = [
    # file, agency, year, doc_type, region (most specific), title contains
    (
        "000_e1829581f26616c9.txt",
        "舟山市经济和信息化局",
        2020,
        "工作总结",
        "舟山市",
        "法治政府建设",
    ),
    (
        "002_9e90b7df6a5084ed.txt",
        "舟山市科学技术局",
        2020,
        "工作总结",
        "舟山市",
        "舟山市科学技术局2020年",
    ),
    (
        "003_08822b4da40a8511.txt",
        "舟山市普陀区人民政府办公室",
        2020,
        "工作要点",
        "普陀区",
        "工作要點",
    ),
    (
        "004_44d86d126aed4ddd.txt",
        "杭州市上城区发展改革和经济信息化局",
        2023,
        "工作总结",
        "上城区",
        "2023年度法治政府建设工作总结",
    ),
]


@pytest.mark.parametrize(("name", "agency", "year", "doc_type", "place", "title"), EXPECTED)
def test_bundled_report_metadata(name, agency, year, doc_type, place, title) -> None:  # type: ignore[no-untyped-def]
    result = ingest_source(name)
    r = result.report
    assert (r.agency, r.year, r.doc_type, r.region[-1]) == (agency, year, doc_type, place)
    assert title in r.title
    assert r.source_file == name
    assert result.needs_flag == []


def test_report_without_title_asks_for_a_flag_and_still_ingests() -> None:
    result = ingest_source("001_f16e45e6654d40b6.txt")
    assert result.report.agency == "上海市经济和信息化委员会"  # the text only says 市经济信息化委
    assert result.report.year == 2020
    assert "title" in result.needs_flag
    assert len(result.report.passages) > 30
    flagged = ingest_source(
        "001_f16e45e6654d40b6.txt", title="上海市经信委2020年总结", doc_type="工作总结"
    )
    assert flagged.report.title == "上海市经信委2020年总结"
    assert flagged.needs_flag == []


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCES.glob("*.txt")))
def test_no_debris_sections_and_idempotent(name: str) -> None:
    first = ingest_source(name).report
    texts = [p.text for p in first.passages]
    for word in DEBRIS:
        assert not any(
            word in t and len(t) < 200 and "责任" not in t
            for t in texts
            if not t.startswith(("在", "通过"))
        ), word
    body = [p for p in first.passages if p.section[:1] != ("文件信息",)]
    assert sum(1 for p in body if p.section) >= len(body) - 2  # headings become sections
    assert schema.dump_report(first) == schema.dump_report(ingest_source(name).report)


def test_debris_lines_are_gone_but_dates_and_attachments_stay() -> None:
    r = ingest_source("003_08822b4da40a8511.txt").report
    info = next(p for p in r.passages if p.section == ("文件信息",))
    assert "發布日期:2020-07-15" in info.text  # traditional script kept
    assert "附件:舟普政辦〔2020〕31號.pdf" in info.text
    assert "瀏覽次數" not in info.text
    assert r.published == "2020-07-15"
    assert r.script == "traditional"
    whole = "".join(p.text for p in r.passages)
    assert "腾博会" not in whole and "Produced By" not in whole


def test_lines_broken_mid_sentence_are_joined() -> None:
    r = ingest_source("000_e1829581f26616c9.txt").report
    whole = [p.text for p in r.passages]
    # the raw text breaks "强 / 化我局" and "《省经信厅重大行政 / 决策制度》" across lines
    assert any("首要原则，强化我局贯彻执行" in t for t in whole)
    assert any("《省经信厅重大行政决策制度》" in t for t in whole)


def test_passages_are_self_contained_sizes() -> None:
    for name in sorted(p.name for p in SOURCES.glob("*.txt")):
        for p in ingest_source(name).report.passages:
            assert 10 <= len(p.text) <= 420, (name, p.id, len(p.text))


MESSY_PAGE = """当前位置:首页 > 政务公开 > 年度总结
宁波市財政局2021年法治政府建設工作總結
发布日期:2022-01-10    浏览次数:123    信息来源:市财政局     字号:[ 大 中 小 ]

2021年，我局在市委、市政府的領導下，認真落實法治政府建設各項要求，現將有關情況總結如下：
一、主要工作
（一）加強學法用法
全年組織局黨組理論學習中心組學法 12 次，開展
法治講座 3 場。一是完善制度。制定《宁波市财政局行政规范性文件管理办法》，明确起草、审核、公布各环节要求。
二是强化培训，全年举办依法行政培训班 4 期，参训 260 人次，覆盖全局干部职工，培训内容包括《中华人民共和国行政处罚法》《中华人民共和国预算法》《政府会计准则》等法律法规和业务规范，并组织闭卷考试，考试合格率达到百分之百。三是加强监督，聘请法律顾问 2 名，对重大财政决策、规范性文件和合同开展合法性审查，全年审查合同 136 份、规范性文件 9 件，提出修改意见 57 条，均被采纳。
（二）推進政務公開
全年主動公開政府信息 485 條。
二、存在問題
學法的主動性還不夠。
宁波市财政局
2021年12月30日
打印本页 关闭窗口
"""


def test_messy_traditional_web_page() -> None:
    r = ingest_text(MESSY_PAGE, "Ningbo CZJ 2021.txt").report
    assert r.agency == "宁波市财政局"
    assert r.year == 2021
    assert r.doc_type == "工作总结"
    assert r.published == "2022-01-10"
    assert r.region[-1] == "宁波市"
    texts = "\n".join(p.text for p in r.passages)
    assert "当前位置" not in texts and "打印本页" not in texts and "浏览次数" not in texts
    assert "學法 12 次，開展法治講座 3 場" in texts  # joined, original script and spacing kept
    sections = {p.section for p in r.passages}
    assert ("一、主要工作", "（一）加強學法用法") in {s[:2] for s in sections}
    assert any(s[-1].startswith("二是强化培训") for s in sections if s)  # 一是/二是 items
    assert r.report_id == "ningbo-czj-2021"


def test_passage_ids_stable_when_another_passage_changes() -> None:
    before = ingest_text(MESSY_PAGE, "nb.txt").report
    after = ingest_text(MESSY_PAGE.replace("485 條", "486 條"), "nb.txt").report
    old = {p.id for p in before.passages}
    new = {p.id for p in after.passages}
    assert len(old - new) == 1 and len(new - old) == 1


def test_agency_from_self_reference_and_body() -> None:
    text = (
        "2023年，我局坚持依法行政。现将2023年度法治政府建设工作总结如下：\n"
        "一、主要举措\n1.规范文件。上城区发展改革和经济信息化局制定的规范性文件全面清理，"
        "经局党委会审议通过，决定继续有效的3件。\n"
    )
    r = ingest_text(text, "x.txt").report
    assert r.agency == "杭州市上城区发展改革和经济信息化局"
    assert r.title == "2023年度法治政府建设工作总结"
    assert "上城发改局" in r.agency_short


def test_unknown_agency_is_reported_as_needing_a_flag() -> None:
    result = ingest_text("一、工作\n今年开展了学习活动，效果良好，群众满意度较高。\n", "y.txt")
    assert "agency" in result.needs_flag
    assert result.report.passages


@pytest.mark.parametrize("text", ["", "   \n\n", "GOVERNMENT INFORMATION\n> > >\n", "12345\n"])
def test_text_without_chinese_body_is_refused(text: str) -> None:
    with pytest.raises(IngestFailed, match="z.txt"):
        ingest_text(text, "z.txt")


def test_evidence_survives_normalisation_in_passages() -> None:
    r = ingest_source("000_e1829581f26616c9.txt").report
    assert any(squeeze("开展 6 次法律法规学习") in squeeze(p.text) for p in r.passages)


def test_the_end_of_a_sentence_broken_over_lines_is_no_debris() -> None:
    text = (
        "某某区人民政府2023年政府信息公开工作年度报告\n"
        "如对本报告有疑问，请与区政府办公室联系（电话：0517-87222589，电子邮箱：\n"
        "hzzwgk@126.com）。\n"
        "一、总体情况\n全年主动公开政府信息1200条，办理依申请公开21件，均在法定期限答复。\n"
    )
    joined = " ".join(p.text for p in ingest_text(text, "a.txt").report.passages)
    assert "hzzwgk@126.com" in joined
