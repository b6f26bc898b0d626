"""The engine on a tiny literal knowledge base: exact expected results."""

from __future__ import annotations

import pytest

import render
from reportqa.index import Index
from reportqa.kb.open import build
from reportqa.models import Fact, KnowledgeBase, Passage, Reason, Report
from reportqa.query import value_kind
from reportqa.search import Engine


def report(
    rid: str,
    agency: str,
    region: tuple[str, ...],
    year: int,
    texts: list[str],
    shorts: tuple[str, ...] = (),
    doc_type: str = "工作总结",
) -> Report:
    passages = tuple(Passage(f"{rid}-{i}", ("一、主要工作",), t) for i, t in enumerate(texts))
    return Report(
        rid,
        f"{year}年法治政府建设{doc_type}",
        agency,
        year,
        doc_type,
        f"{rid}.txt",
        passages,
        shorts,
        region,
    )


KB = KnowledgeBase(
    (
        report(
            "kj",
            "舟山市科学技术局",
            ("浙江省", "舟山市"),
            2020,
            [
                "全年开展领导班子集体学习法律法规8次，不断提升法治意识。",
                "2020年，我局在市政府信息公开网站公开信息数320条。",
                "积极做好浙里办APP宣传推广，今年已推广数为2501个，完成率为252.63%。",
            ],
        ),
        report(
            "jx",
            "舟山市经济和信息化局",
            ("浙江省", "舟山市"),
            2020,
            [
                "今年由主要负责人牵头带领班子成员开展 6 次法律法规学习。",
                "全市金融机构已累计为企业减息 4.88 亿元，全市企业发行债务融资工具 37 亿元。",
                "通过部门网站、微信公众号等推送给全市民营企业，累计推送万条。",
            ],
        ),
        report(
            "sc",
            "杭州市上城区发展改革和经济信息化局",
            ("浙江省", "杭州市", "上城区"),
            2023,
            [
                "完成信用杭州信用修复审核办件3162件，是2022年全年办件量的7.5倍。",
                "组织开展各类信用宣传活动47次。",
            ],
        ),
        report(
            "sh",
            "上海市经济和信息化委员会",
            ("上海市",),
            2020,
            [
                "办理信访件1704件，其中初次信访772件，重复信访932件。",
                "组织开展各类信用宣传活动12次，覆盖企业3000家。",
            ],
        ),
        report(
            "pt",
            "舟山市普陀区人民政府办公室",
            ("浙江省", "舟山市", "普陀区"),
            2020,
            [
                "力爭政務服務辦件網上受理率達到90%以上。",
                "深入實施堅持發展“楓橋經驗”實現矛盾不上交三年行動計劃。",
            ],
            doc_type="工作要点",
        ),
    ),
    (Fact("f1", "舟山科技局的联系电话是多少", "0580-1234567", "kj", ("舟山科技局电话",)),),
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return build(KB)


def top(engine: Engine, q: str) -> tuple[str, str, bool]:
    a = engine.ask(q)
    assert a.hits, q
    return a.hits[0].report.report_id, a.hits[0].sentence, a.answered


def test_agency_named_decides_the_report(engine: Engine) -> None:
    rid, sentence, ok = top(engine, "舟山科技局领导班子学习法律法规几次？")
    assert (rid, ok) == ("kj", True) and "8次" in sentence
    rid, sentence, ok = top(engine, "舟山经信局领导班子学习法律法规几次？")
    assert (rid, ok) == ("jx", True) and "6 次" in sentence


def test_shangcheng_is_not_shanghai(engine: Engine) -> None:
    assert top(engine, "上城发改局信用宣传活动开展了多少次")[0] == "sc"
    assert top(engine, "上海经信委信用宣传活动开展了多少次")[0] == "sh"


def test_traditional_question_finds_simplified_text_and_back(engine: Engine) -> None:
    rid, sentence, ok = top(engine, "上海市經信委辦理信訪件多少件？")
    assert (rid, ok) == ("sh", True) and "1704件" in sentence
    rid, sentence, ok = top(engine, "普陀区政务服务办件网上受理率目标是多少")
    assert (rid, ok) == ("pt", True) and "網上受理率" in sentence  # original script shown


def test_typos_and_homophones(engine: Engine) -> None:
    rid, _, ok = top(engine, "舟山经信局开展了几次法率法规学习")
    assert (rid, ok) == ("jx", True)
    rid, _, _ = top(engine, "舟山科技局浙里办推广完城率")
    assert rid == "kj"


def test_numbers_are_whole_tokens_with_or_without_spaces(engine: Engine) -> None:
    a = engine.ask("减息4.88亿元")
    b = engine.ask("减息 4.88 亿元")
    assert a.hits[0].passage.id == b.hits[0].passage.id == "jx-1"


def test_sentence_holding_the_value_is_picked(engine: Engine) -> None:
    _, sentence, ok = top(engine, "舟山全市企业发行了多少亿元债务融资工具")
    assert ok and "37 亿元" in sentence


@pytest.mark.parametrize(
    "question",
    [
        "宁波市经信局2020年开展了几次法律法规学习？",  # a city the knowledge base does not hold
        "舟山市公安局2020年的执法证持证率是多少？",  # an agency it does not hold
        "上城区发改局2019年信用修复办件多少件？",  # a year it does not hold
        "舟山市科技局2020年罚款多少钱？",  # a value the passage does not hold
        "舟山科技局食堂的菜单有哪些菜",  # a topic no passage covers
    ],
)
def test_honest_no_answer(engine: Engine, question: str) -> None:
    a = engine.ask(question)
    assert a.answered is False
    assert a.reason is not None and render.reason_text(a)
    assert any(r.agency == "舟山市科学技术局" for r in a.coverage)  # says what it does cover


def test_results_listed_even_without_answer(engine: Engine) -> None:
    a = engine.ask("宁波市经信局2020年开展了几次法律法规学习？")
    assert not a.answered and a.hits


def test_fact_outranks_passages(engine: Engine) -> None:
    a = engine.ask("舟山科技局的联系电话是多少？")
    assert a.answered and a.hits[0].fact is not None
    assert a.hits[0].sentence == "0580-1234567"
    assert a.hits[0].report.report_id == "kj"


def test_restriction_to_one_report(engine: Engine) -> None:
    a = engine.ask("信用宣传活动开展了多少次", report_ids=frozenset({"sh"}))
    assert {h.report.report_id for h in a.hits} == {"sh"}


@pytest.mark.parametrize("question", ["", "   ", "？？？", "😀😀", "a" * 10000])
def test_degenerate_questions_do_not_crash(engine: Engine, question: str) -> None:
    a = engine.ask(question)
    assert isinstance(a.answered, bool)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("罚款多少钱", "money"),
        ("文号是多少", "docno"),
        ("是哪天发布的", "date"),
        ("完成率是多少", "percent"),
        ("最多几天能办完", "duration"),
        ("开展了几次", "count"),
        ("草莓种了多大面积", "area"),
        ("新建高标准农田多少万亩", "area"),
        ("第几批", "ordinal"),
        ("看的人有多少啊", "number"),
        ("哪几个领域", None),
    ],
)
def test_value_kind(question: str, kind: str | None) -> None:
    found = value_kind(question)
    assert (found.name if found else None) == kind


def test_index_with_a_trivial_tokenizer() -> None:
    idx = Index.build(["a b c", "a a d", "e"], str.split)
    scores = idx.score({idx.vocab["a"]: 1.0})
    assert scores[1] > scores[0] > 0 and scores[2] == 0
    assert idx.df[idx.vocab["a"]] == 2


def test_a_plan_states_targets_not_outcomes(engine: Engine) -> None:
    assert engine.ask("普陀区政务服务办件网上受理率的目标是多少").answered
    a = engine.ask("普陀区政务服务办件网上受理率最后实际达到了多少")
    assert not a.answered and a.reason is Reason.PLAN_ONLY
    assert "计划" in render.reason_text(a)


@pytest.mark.parametrize(
    ("follow", "expected"),
    [
        ("那科技局呢？", "kj"),  # another agency, same place and topic
        ("上海的呢", "sh"),  # another place: its own agency
        ("那上城发改局呢", "sc"),
    ],
)
def test_follow_up_reuses_the_topic(engine: Engine, follow: str, expected: str) -> None:
    from reportqa.followup import rewrite

    question = rewrite(engine, "舟山经信局信用宣传活动开展了多少次？", follow)
    assert question is not None and "信用宣传活动" in question
    assert engine.ask(question).hits[0].report.report_id == expected


@pytest.mark.parametrize("text", ["谢谢", "科技局领导班子学习法律法规几次", "你好呀"])
def test_not_a_follow_up(engine: Engine, text: str) -> None:
    from reportqa.followup import rewrite

    assert rewrite(engine, "舟山经信局信用宣传活动开展了多少次？", text) is None


def test_year_follow_up_replaces_the_year(engine: Engine) -> None:
    from reportqa.followup import rewrite

    question = rewrite(engine, "上城发改局2023年信用修复办件多少件？", "2022年的呢")
    assert question is not None and "2022年" in question and "2023" not in question


def test_place_then_abbreviation_without_its_suffix_names_the_agency(engine: Engine) -> None:
    q = engine.analyse("舟山经信搞的信用宣传活动有几次")
    assert [m.text for m in q.agencies] == ["经信"]
    assert "经济和信息化局" in q.agencies[0].kinds
    assert engine.ask("舟山经信搞的信用宣传活动有几次").hits[0].report.report_id != "kj"
    assert engine.analyse("舟山科技创新有哪些举措").agencies == ()  # 科技 is an ordinary word
    assert engine.analyse("上海大数据中心").agencies == ()  # 大数据 is a topic too


def test_a_government_work_report_covers_the_year_it_reviews() -> None:
    from reportqa.models import Report
    from reportqa.scope import covered_years

    def report(doc_type: str, year: int | None) -> Report:
        return Report("r", "", "", year, doc_type, "r.txt", ())

    assert covered_years(report("政府工作报告", 2025)) == (2025, 2024)
    assert covered_years(report("工作总结", 2025)) == (2025,)
    assert covered_years(report("政府工作报告", None)) == ()


@pytest.mark.parametrize(
    ("question", "agency", "named"),
    [
        ("舟山市科委2020年公开了多少条政府信息？", "舟山市科学技术局", "科委"),
        ("上海市经信局信访件数量", "上海市经济和信息化委员会", "经信局"),
    ],
)
def test_a_close_agency_name_is_answered_from_the_agency_held(
    engine, question: str, agency: str, named: str
) -> None:  # type: ignore[no-untyped-def]
    answer = engine.ask(question)
    assert answer.answered and answer.hits[0].report.agency == agency
    assert answer.stand_in == (named, agency)
    note = f"知识库中没有{named}的报告，以下按相近的{agency}的报告回答"
    assert render.stand_in_note(answer) == note
    assert render.plain(answer).startswith(f"（{note}）\n答：")


def test_an_exact_agency_needs_no_note_and_an_unheld_one_no_stand_in(engine) -> None:  # type: ignore[no-untyped-def]
    assert engine.ask("舟山市科技局2020年公开了多少条政府信息？").stand_in is None
    refused = engine.ask("舟山市公安局2020年公开了多少条政府信息？")
    assert not refused.answered and refused.reason is Reason.NO_REPORT_OF_AGENCY
    assert refused.reason_data == ("公安局",)
    assert render.reason_text(refused) == "知识库中没有公安局的报告"


def test_english_in_a_question_is_read_as_a_user_means_it(engine) -> None:  # type: ignore[no-untyped-def]
    plain = engine.ask("上海经信委 信访件数量")
    for mixed in ("How many 信访件 did 上海经信委 handle?", "上海经信委 petitions how many 信访件"):
        answer = engine.ask(mixed)
        assert answer.answered, mixed
        assert answer.hits[0].passage.id == plain.hits[0].passage.id
    assert engine.analyse("how many 信访件").value is not None  # asks for a count
    assert (
        engine.analyser.read_english("上海 petitions 5g") == "上海   5g"
    )  # unknown words dropped, 5g kept


def test_a_passage_about_another_year_does_not_answer_for_the_reports_own_year() -> None:
    passages = (
        Passage("p1", ("一、",), "2019年全省粮食产量达到1339亿斤，再创历史新高。"),
        Passage("p2", ("二、",), "全省新建高标准农田500万亩，农业基础更加稳固。"),
    )
    engine = _one_report_engine(
        passages, "河南省人民政府", 2020, "其他", "河南省", title="河南省2020年新闻发布会"
    )
    assert not engine.ask("河南省2020年粮食产量是多少？").answered
    assert engine.ask("河南省2019年粮食产量是多少？").answered
    assert engine.ask("河南省2020年新建高标准农田多少万亩？").answered


def test_another_place_the_question_speaks_of_does_not_refuse_it() -> None:
    passages = (
        Passage(
            "y1", ("一、",), "推进与北京海淀区对接合作，实施帮扶项目17个，争取帮扶资金6511.6万元。"
        ),
    )
    engine = _one_report_engine(
        passages,
        "易县人民政府",
        2018,
        "政府工作报告",
        "河北省/保定市/易县",
        title="易县2018年政府工作报告",
    )
    assert engine.ask("易县跟北京海淀区对接合作争取到多少帮扶资金？").answered
    # a place written as one chain with the report's must match it: 保定市徐水区 is not 易县
    assert not engine.ask("保定市徐水区对接合作争取到多少帮扶资金？").answered
    assert not engine.ask("北京海淀区对接合作争取到多少帮扶资金？").answered


@pytest.mark.parametrize(
    ("question", "holds", "lacks"),
    [
        ("联系邮箱是什么？", "电子邮箱：hzzwgk@126.com）。", "电子邮箱另行公布。"),
        ("咨询电话是多少？", "电话：0517-87222589", "电话另行公布。"),
    ],
)
def test_email_and_phone_are_values(question: str, holds: str, lacks: str) -> None:
    from reportqa.normalize import normalize

    kind = value_kind(normalize(question))
    assert kind is not None
    assert kind.pattern.search(normalize(holds)) and not kind.pattern.search(normalize(lacks))


def test_gdp_is_asked_as_the_reports_write_it(engine) -> None:  # type: ignore[no-untyped-def]
    assert "生产总值" in engine.analyser.read_english("南山区gdp有多少")


def test_an_agency_the_passage_itself_names_does_not_refuse_the_answer() -> None:
    passages = (
        Passage(
            "h1", ("一、",), "2024年，区政府办代表区政府受理政府信息公开申请17件，均已按时答复。"
        ),
        Passage("h2", ("二、",), "全年主动公开政府信息1200条，政府网站访问量稳步增长。"),
    )
    engine = _one_report_engine(
        passages,
        "淮安市洪泽区人民政府",
        2024,
        "政府信息公开年度报告",
        "江苏省/淮安市/洪泽区",
        title="洪泽区2024年政府信息公开工作年度报告",
    )
    assert engine.ask("洪泽区政府办2024年受理了多少件信息公开申请？").answered
    refused = engine.ask("洪泽区公安局2024年受理了多少件信息公开申请？")
    assert not refused.answered and refused.reason is Reason.NO_REPORT_OF_AGENCY
    assert "公安局" in render.reason_text(refused)


@pytest.mark.parametrize(
    ("question", "text"),
    [
        ("开展了几次学法活动", "全年开展集体学法十二次"),
        ("受理了多少件申请", "受理申请二十三件"),
        ("有多少人参加", "参加人数一千二百人"),
        ("罚款多少钱", "罚款三万元"),
        ("比例是多少", "占比百分之三十"),
        ("最多几天能办完", "三个工作日内办结"),
        ("排第几", "名列第三"),
    ],
)
def test_values_in_chinese_numerals_count(question: str, text: str) -> None:
    from reportqa.normalize import normalize

    kind = value_kind(normalize(question))
    assert kind is not None and kind.found(normalize(text))


def test_a_lone_one_is_a_word_not_a_count() -> None:
    kind = value_kind("开展了几次学法活动")
    assert kind is not None and not kind.found("开展一次学法，形成一个机制")


def test_a_count_of_things_holds_with_its_measure_word() -> None:
    from reportqa.normalize import normalize

    kind = value_kind(normalize("给多少个项目发放了无偿资助？"))
    assert kind is not None and kind.name == "count"
    assert kind.pattern.search("全年向27个项目累计提供无偿资助")
    assert kind.pattern.search("扶持项目12项")
    assert not kind.pattern.search("全年提供无偿资助2951.75万元")


@pytest.mark.parametrize(
    ("question", "anchors"),
    [
        ("规模以上工业企业实现利润总额多少亿元？", ("利润总额",)),
        ("空气好的天数有多少天呀", ("天数",)),
        ("考执法证的有多少人啊", ("执法证",)),  # 执法|证 cut in two by jieba
        ("给多少个项目发放了无偿资助", ("项目",)),  # the thing counted, past 个
        ("草莓一共种了多大面积", ("面积",)),  # 一共|种: a one-character verb is no anchor
        ("一共有多少亿元", ()),  # a unit names nothing
    ],
)
def test_the_words_an_asked_number_belongs_to(engine, question: str, anchors: tuple) -> None:  # type: ignore[no-untyped-def,type-arg]
    assert engine.analyse(question).anchors == anchors


def test_the_number_asked_with_what_it_counts_answers_a_colloquial_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import reportqa.search as search

    passages = (
        Passage(
            "m1",
            ("一、",),
            "实施渣土车“黑转白”，开展洗城降尘、秸秆垃圾禁烧等系列行动，PM2.5平均浓度同比下降"
            "17.7%，优良天数达到251天、同比增加32天。",
        ),
        Passage("m2", ("二、",), "新建改造城市道路12条，城市面貌持续改善。"),
    )
    engine = _one_report_engine(
        passages,
        "保定市满城区人民政府",
        2022,
        "政府工作报告",
        "河北省/保定市/满城区",
        title="满城区2022年政府工作报告",
    )
    question = "满城区2021年空气好的天数有多少天呀"
    answer = engine.ask(question)
    assert answer.answered and "251天" in answer.hits[0].sentence
    # the topic alone is too little of the question: without the anchor rule it is refused
    monkeypatch.setattr(search, "COVERAGE_ANCHORED", 1.01)
    assert not engine.ask(question).answered


def test_an_agency_named_with_its_place_is_not_a_districts_agency() -> None:
    def report(rid: str, agency: str, year: int, region: tuple[str, ...], text: str) -> Report:
        return Report(
            report_id=rid,
            source_file=f"{rid}.txt",
            title=f"{agency}{year}年政府信息公开工作年度报告",
            agency=agency,
            year=year,
            doc_type="政府信息公开年度报告",
            region=region,
            passages=(Passage(f"{rid}-1", ("一、",), text),),
        )

    engine = build(
        KnowledgeBase(
            (
                report(
                    "city",
                    "淮安市人民政府",
                    2024,
                    ("江苏省", "淮安市"),
                    "2024年全市共受理政府信息公开申请1046件。",
                ),
                report(
                    "district",
                    "淮安市洪泽区人民政府",
                    2023,
                    ("江苏省", "淮安市", "洪泽区"),
                    "2023年全区受理政府信息公开申请21件，均在法定期限答复。",
                ),
            ),
            (),
        )
    )
    refused = engine.ask("淮安市人民政府2023年受理了多少件政府信息公开申请？")
    assert not refused.answered
    assert engine.ask("淮安市人民政府2024年受理了多少件政府信息公开申请？").answered
    # the district's own agency, or the city's name without an agency, still finds it
    assert engine.ask("洪泽区人民政府2023年受理了多少件政府信息公开申请？").answered
    assert engine.ask("淮安市2023年受理了多少件政府信息公开申请？").answered


def test_a_role_holder_asked_needs_a_persons_name() -> None:
    passages = (
        Passage("k1", ("一、",), "成立行政执法工作领导小组，由局长任组长、分管领导任副组长。"),
        Passage("k2", ("二、",), "局党组书记、局长李明主持召开专题会议，研究法治政府建设工作。"),
    )
    engine = _one_report_engine(
        passages,
        "舟山市科学技术局",
        2020,
        "工作总结",
        "浙江省/舟山市",
        agency_short=("科技局", "市科技局"),
    )
    answer = engine.ask("舟山市科技局局长是谁？")
    assert answer.answered and "李明" in answer.hits[0].sentence
    only_role = _one_report_engine(
        passages[:1],
        "舟山市科学技术局",
        2020,
        "工作总结",
        "浙江省/舟山市",
        agency_short=("科技局", "市科技局"),
    )
    refused = only_role.ask("舟山市科技局局长是谁？")
    assert not refused.answered and refused.reason is Reason.NO_VALUE
    assert refused.reason_data == ("person",)
    assert render.reason_text(refused) == "报告中没有问题所问的人名"
    # 谁 alone often asks for a unit: no name needed
    assert value_kind("央企法总论坛是由谁主办的") is None or (
        value_kind("央企法总论坛是由谁主办的").name != "person"  # type: ignore[union-attr]
    )


def _one_report_engine(  # type: ignore[no-untyped-def]
    passages: tuple,  # type: ignore[type-arg]
    agency: str,
    year: int,
    doc_type: str,
    region: str,  # 河北省/保定市/易县
    **extra,
) -> Engine:
    """An engine over one report made of these passages (the real gazetteer and tokenizer);
    its title is agency + year + doc_type unless given."""
    fields = {
        "report_id": "r",
        "source_file": "r.txt",
        "passages": passages,
        "title": f"{agency}{year}年{doc_type}",
        "agency": agency,
        "year": year,
        "doc_type": doc_type,
        "region": tuple(region.split("/")),
        **extra,
    }
    return build(KnowledgeBase((Report(**fields),), ()))
