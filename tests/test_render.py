"""render.py: Telegram HTML that Telegram accepts (checked with a port of its own parser), long
texts split below the message limit without breaking tags or entities, numbers in bold, the
passage trimmed around the answer, the source line. And a property test from question to
rendered messages and buttons."""

from __future__ import annotations

import re
import signal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import render
from chat import MAX_RESULTS, ChatService, ChatState
from handlers import views
from reportqa.models import Answer, Fact, Hit, Passage, Reason, Report
from reportqa.search import Engine
from tests.botapi import parse_html, utf16_len

LIMIT = render.TELEGRAM_LIMIT
TAG = re.compile(r"<[^<>]*>")
ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def report(**kw: Any) -> Report:
    fields: dict[str, Any] = {
        "report_id": "r1",
        "title": "2020年度法治政府建设工作总结",
        "agency": "舟山市科学技术局",
        "year": 2020,
        "doc_type": "法治政府建设年度报告",
        "source_file": "r1.txt",
        "passages": (),
    }
    fields.update(kw)
    return Report(**fields)


def hit(
    sentence: str = "共公开信息320条。",
    text: str | None = None,
    section: tuple[str, ...] = ("一、总体情况", "（一）政务公开"),
    rep: Report | None = None,
    fact: Fact | None = None,
) -> Hit:
    passage = Passage("r1-p1", section, sentence if text is None else text)
    return Hit(rep or report(), passage, sentence, 1.0, fact)


# ====================================================================== helpers


def styles(html_text: str) -> list[tuple[str, frozenset[str]]]:
    """(character, entity types covering it) for every character of the parsed text."""
    text, entities = parse_html(html_text)
    # entity offsets are in UTF-16 units: map them to character indices
    starts = []
    u16 = 0
    for ch in text:
        starts.append(u16)
        u16 += utf16_len(ch)
    index = {u: i for i, u in enumerate(starts)}
    index[u16] = len(text)
    cover: list[set[str]] = [set() for _ in text]
    for e in entities:
        for i in range(index[e["offset"]], index[e["offset"] + e["length"]]):
            cover[i].add(e["type"])
    return [(ch, frozenset(c)) for ch, c in zip(text, cover, strict=True)]


def check_split(html_text: str, limit: int = LIMIT) -> list[str]:
    """split_html's promises, checked part by part; returns the parts."""
    parts = render.split_html(html_text, limit)
    original = [(ch, s) for ch, s in styles(html_text) if not ch.isspace()]
    joined: list[tuple[str, frozenset[str]]] = []
    for part in parts:
        assert len(part) <= limit, len(part)
        plain, _ = parse_html(part)  # raises on a broken tag or an unclosed one
        assert plain.strip(), f"a part with no visible text: {part[:80]!r}"
        for piece in TAG.split(part):  # no tag cut: every < belongs to a whole tag
            assert "<" not in piece and ">" not in piece
            for amp in re.finditer("&", piece):  # no entity cut
                assert ENTITY.match(piece, amp.start()), piece[amp.start() : amp.start() + 12]
        joined.extend((ch, s) for ch, s in styles(part) if not ch.isspace())
    # the same characters with the same formatting: nothing lost, doubled or unformatted
    assert "".join(c for c, _ in joined) == "".join(c for c, _ in original)
    assert joined == original
    return parts


SENTENCE = "2020年，我局在市政府信息公开网站公开信息数320条，占比252.63%，R&D投入增长18 条<规定>。"


def doc_paragraphs() -> str:
    paras = [f"第{i}段：{render.bold_numbers(SENTENCE * (1 + i % 3))}" for i in range(60)]
    return "\n\n".join(paras)


def doc_one_blockquote() -> str:  # no newline at all: cuts fall at sentence ends
    return f"💡 {render.bold_numbers(SENTENCE)}\n<blockquote>{render.escape(SENTENCE * 170)}</blockquote>"


def doc_no_separators() -> str:  # nothing to cut at: hard cuts between entities and tags
    return "<b>" + "a&amp;b&lt;c&gt;<i>d</i>" * 700 + "</b>"


def doc_nested_tags() -> str:
    return "\n".join(
        f"<b>粗<i>斜<u>下划线 {i} &amp; <s>删除</s></u></i></b> <code>x&lt;{i}&gt;</code> 普通文字，"
        for i in range(300)
    )


def doc_link_and_spoiler() -> str:
    unit = '<a href="https://example.com/?a=1&amp;b=2">链接 &quot;x&quot;</a> <tg-spoiler>秘密</tg-spoiler>；'
    return unit * 220


def doc_emoji() -> str:  # astral characters count once as characters, twice in UTF-16
    return "<i>" + "😀🎉🇨🇳 舟山 &amp; " * 900 + "</i>"


def doc_long_lines() -> str:
    return "\n".join(f"· {render.escape('《报告》<b>' * 30)} {i}" for i in range(40))


DOCS = {
    "paragraphs": doc_paragraphs,
    "one_blockquote": doc_one_blockquote,
    "no_separators": doc_no_separators,
    "nested_tags": doc_nested_tags,
    "link_and_spoiler": doc_link_and_spoiler,
    "emoji": doc_emoji,
    "long_lines": doc_long_lines,
}


# ====================================================================== split_html


@pytest.mark.parametrize("name", DOCS)
def test_split_long_html(name: str) -> None:
    text = DOCS[name]()
    assert len(text) >= 10_000
    parse_html(text)  # the input itself is valid
    parts = check_split(text)
    assert len(parts) >= 3


@pytest.mark.parametrize("name", DOCS)
@pytest.mark.parametrize("limit", [300, 1000])
def test_split_with_smaller_limits(name: str, limit: int) -> None:
    check_split(DOCS[name](), limit)


def test_split_prefers_paragraph_ends() -> None:
    parts = check_split(doc_paragraphs())
    for part in parts[:-1]:
        assert part.rstrip().endswith("。"), part[-20:]  # the paragraph's last sentence is whole
        assert not part.startswith("\n")


def test_split_reopens_the_tag_open_at_the_cut() -> None:
    parts = render.split_html(doc_one_blockquote())
    assert parts[0].endswith("</blockquote>")
    assert all(p.startswith("<blockquote>") for p in parts[1:])


def test_short_text_is_one_part() -> None:
    assert render.split_html("") == [""]
    assert render.split_html("<b>短</b>") == ["<b>短</b>"]
    exact = "字" * LIMIT
    assert render.split_html(exact) == [exact]
    assert len(render.split_html(exact + "字")) == 2


def test_split_keeps_numeric_entities_whole() -> None:
    text = "a" * (LIMIT - 64 - 8) + "&#128512;" * 3 + "b" * 200
    check_split(text)


def test_split_never_makes_a_part_without_text() -> None:
    check_split("<b>" + "字" * 3999 + "。" + "</b>" + " " * 200)


def test_split_terminates_on_a_huge_tag() -> None:
    text = '<a href="https://example.com/' + "a" * 5000 + '">link</a>'

    def timeout(*_: object) -> None:
        raise TimeoutError("split_html did not return")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(2)
    try:
        render.split_html(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


SAFE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("舟山市科技局报告公开信息条。，；！？ abcXYZ0123456789%\n&<>\"'😀")
    ),
    min_size=1,
    max_size=60,
)


@st.composite
def html_docs(draw: st.DrawFn) -> str:
    """Valid Telegram HTML: escaped text in (possibly nested) allowed tags."""
    out = []
    for _ in range(draw(st.integers(1, 40))):
        inner = render.escape(draw(SAFE_TEXT))
        for tag in draw(
            st.lists(st.sampled_from(["b", "i", "u", "s", "code", "blockquote"]), max_size=3)
        ):
            inner = f"<{tag}>{inner}</{tag}>"
        out.append(inner)
    return draw(st.sampled_from(["", "\n", "\n\n", " "])).join(out)


@settings(max_examples=200, deadline=None)
@given(doc=html_docs(), limit=st.integers(200, 1200))
def test_split_property(doc: str, limit: int) -> None:
    parse_html(doc)
    if not re.sub(r"<[^>]*>|\s", "", doc):
        return  # nothing visible to send
    check_split(doc, limit)


# ====================================================================== bold_numbers, escaping


@pytest.mark.parametrize(
    ("text", "bold"),
    [
        ("增长252.63%。", "252.63%"),
        ("出台18 条措施", "18 条"),
        ("覆盖单位300余家", "300余家"),
        ("投入2.5亿元", "2.5亿元"),
        ("金额1,234.5万元", "1,234.5万元"),
        ("举办培训3场", "3场"),
        ("公开信息数320条，", "320条"),
    ],
)
def test_bold_numbers_with_units(text: str, bold: str) -> None:
    out = render.bold_numbers(text)
    assert f"<b>{bold}</b>" in out
    assert parse_html(out)[0] == text


@pytest.mark.parametrize("text", ["6.2万余人次", "1万余家", "3万多元"])
def test_bold_numbers_wan_yu(text: str) -> None:
    assert render.bold_numbers(f"直播受众达{text}，") == f"直播受众达<b>{text}</b>，"


@pytest.mark.parametrize("text", ["5个工作日", "10 个工作日"])
def test_bold_numbers_working_days(text: str) -> None:
    assert render.bold_numbers(f"办结时间压缩至{text}。") == f"办结时间压缩至<b>{text}</b>。"


def test_bold_numbers_escapes_report_text() -> None:
    text = "<b>12条</b> & <script>alert(1)</script> R&D &amp; 3<5>2"
    out = render.bold_numbers(text)
    assert "<script>" not in out and "&lt;/b&gt; &amp; &lt;script&gt;alert(" in out
    plain, entities = parse_html(out)
    assert plain == text
    assert all(e["type"] == "bold" for e in entities)
    assert "&lt;script&gt;" in out and "&amp;amp;" in out


def test_bold_numbers_leaves_text_without_numbers_alone() -> None:
    assert render.bold_numbers("没有数字的句子。") == "没有数字的句子。"
    assert render.bold_numbers("") == ""


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("6.2万余人次")
@example("<b>&amp;</b>")
@example("1\n\n2")
def test_bold_numbers_property(text: str) -> None:
    out = render.bold_numbers(text)
    plain, entities = parse_html(out)
    assert plain == text
    assert all(e["type"] == "bold" for e in entities)
    for ch, types in styles(out):
        if "bold" in types and ch.isdigit():
            break
    else:
        assert not entities


# ====================================================================== layouts


HOSTILE = "<script>alert('x')</script> & </b></blockquote><i>&amp;"


def test_html_layout_escapes_hostile_report_text() -> None:
    lay = render.Layout(
        answered=True,
        sentence=f"共 320 条 {HOSTILE}",
        passage=f"前文。{HOSTILE}。后文",
        source=f"机构 · 《{HOSTILE}》 · 2020年",
    )
    out = render.html_layout(lay)
    plain, entities = parse_html(out)
    assert plain.count(HOSTILE) == 3
    assert plain.startswith("💡 共 320 条 ")
    assert "<script>" not in out
    assert {e["type"] for e in entities} == {"bold", "blockquote", "italic"}
    bold = [e for e in entities if e["type"] == "bold"]
    assert len(bold) == 1


def test_html_layout_of_a_no_answer_escapes_and_limits_the_covers() -> None:
    lay = render.Layout(
        answered=False,
        no_answer=f"抱歉，没有找到（{HOSTILE}）。",
        covers=tuple(f"机构{i} {HOSTILE}" for i in range(20)),
        nearest=HOSTILE,
        nearest_source=HOSTILE,
    )
    out = render.html_layout(lay)
    plain, _ = parse_html(out)
    assert "知识库目前收录" in plain
    assert plain.count(HOSTILE) == 1 + 12 + 2
    assert "……共 20 份报告，发送 /reports 查看全部" in plain
    assert "机构12 " not in plain


def test_layout_of_an_answer_and_of_a_fact() -> None:
    passage = "第一句。共公开信息320条。第三句。"
    answer = Answer("q", True, (hit(text=passage), hit(fact=Fact("f1", "q", "a", "r1"))))
    first = render.layout(answer)
    assert first.answered and first.sentence == "共公开信息320条。" and first.passage == passage
    assert render.layout(answer, 1).passage == ""  # a curated fact has no passage to show
    same = Answer("q", True, (hit(),))
    assert render.layout(same).passage == ""  # the passage would only repeat the sentence


def test_layout_of_no_answer() -> None:
    answer = Answer(
        "q",
        False,
        (hit(),),
        reason=Reason.NO_REPORT_OF_AGENCY,
        reason_data=("财政局",),
        coverage=(report(), report(agency="", year=None, title="", source_file="x.txt")),
    )
    lay = render.layout(answer)
    assert not lay.answered and "知识库中没有财政局的报告" in lay.no_answer
    assert lay.covers == (
        "舟山市科学技术局（2020）2020年度法治政府建设工作总结",
        "《x.txt》（年份不详）",
    )
    assert lay.nearest == "共公开信息320条。"
    empty = render.layout(Answer("q", False, ()))
    assert render.NO_REASON in empty.no_answer and empty.nearest == ""
    parse_html(render.html_layout(empty))


def test_plain_layout() -> None:
    text = render.plain(Answer("q", True, (hit(text="前文。共公开信息320条。"),)))
    assert text.startswith("答：共公开信息320条。") and "来源：舟山市科学技术局" in text
    assert "<" not in text


def test_passage_html() -> None:
    rep = report(title=HOSTILE)
    out = render.passage_html(rep, Passage("p", ("一、", HOSTILE), HOSTILE * 2))
    plain, _ = parse_html(out)
    assert plain.startswith(HOSTILE * 2)
    assert plain.endswith(f"📄 舟山市科学技术局 · 《{HOSTILE}》 · 一、 / {HOSTILE} · 2020年")


# ====================================================================== trim_passage


def test_trim_passage_keeps_the_sentence_in_the_middle() -> None:
    sentence = "共公开信息320条。"
    passage = "前" * 1000 + sentence + "后" * 1000
    out = render.trim_passage(passage, sentence)
    assert sentence in out
    assert out.startswith("…") and out.endswith("…")
    assert len(out) == render.PASSAGE_MAX + 2
    at = out.index(sentence)
    assert abs(at - (len(out) - at - len(sentence))) <= 3  # centred


def test_trim_passage_at_the_ends() -> None:
    sentence = "共公开信息320条。"
    start = render.trim_passage(sentence + "后" * 1000, sentence)
    assert start.startswith(sentence) and start.endswith("…")
    end = render.trim_passage("前" * 1000 + sentence, sentence)
    assert end.endswith(sentence) and end.startswith("…")
    short = "前文。" + sentence
    assert render.trim_passage(short, sentence) is short


def test_trim_passage_without_the_sentence_keeps_the_start() -> None:
    out = render.trim_passage("字" * 1000, "不在其中")
    assert out == "字" * render.PASSAGE_MAX + "…"


@settings(max_examples=200, deadline=None)
@given(
    before=st.integers(0, 2000),
    after=st.integers(0, 2000),
    length=st.integers(1, 300),
    limit=st.integers(300, 800),
)
def test_trim_passage_property(before: int, after: int, length: int, limit: int) -> None:
    sentence = "句" * (length - 1) + "。"
    passage = "前" * before + sentence + "后" * after
    out = render.trim_passage(passage, sentence, limit)
    assert sentence in out
    if len(passage) <= limit:
        assert out == passage
        return
    inner = out.removeprefix("…").removesuffix("…")
    assert len(inner) == limit and inner in passage
    assert out.startswith("…") == (not passage.startswith(inner))
    assert out.endswith("…") == (not passage.endswith(inner))


# ====================================================================== source_line


def test_source_line() -> None:
    assert render.source_line(hit()) == (
        "舟山市科学技术局 · 《2020年度法治政府建设工作总结》 · 一、总体情况 / （一）政务公开 · 2020年"
    )


def test_source_line_with_missing_parts() -> None:
    bare = report(agency="", title="", year=None)  # cited by its file when nothing is known
    assert render.source_line(hit(section=(), rep=bare)) == "《r1.txt》"
    untitled = report(agency="", year=2021)  # no agency: the title names the source
    assert render.source_line(hit(section=("一、",), rep=untitled)).startswith("《")
    assert "未知机构" not in render.source_line(hit(section=("一、",), rep=untitled))
    no_title = report(title="")
    assert (
        render.source_line(hit(section=("一、",), rep=no_title))
        == "舟山市科学技术局 · 一、 · 2020年"
    )


def test_source_line_of_a_fact_uses_its_section() -> None:
    fact = Fact("f1", "q", "a", "r1", section="附表")
    assert render.source_line(hit(fact=fact)).endswith(" · 附表 · 2020年")


# ====================================================================== question -> messages


@pytest.fixture(scope="module")
def chat_service(engine: Engine) -> ChatService:
    return ChatService(lambda: engine, None)


def check_reply_renders(service: ChatService, text: str, previous: str | None) -> None:
    service.conversations.save_chat(1, ChatState())
    if previous:
        service.ask(1, 1, previous, MAX_RESULTS)
    reply = service.ask(1, 1, text, MAX_RESULTS)
    indices = range(len(reply.answer.hits)) if reply.answer.answered else [0]
    for index in indices:
        html_text = views.answer_text(reply, index)
        keyboard = views.answer_keyboard(reply, index)
        for part in render.split_html(html_text):
            plain, _ = parse_html(part)  # every tag allowed and closed
            assert len(part) <= LIMIT and len(plain) <= LIMIT
            assert plain.strip()
        if keyboard is not None:
            for row in keyboard.inline_keyboard:
                for button in row:
                    assert button.callback_data is not None
                    assert 1 <= len(str(button.callback_data).encode("utf-8")) <= 64
                    assert button.text
    lay = render.layout(reply.answer)
    parse_html(render.html_layout(lay))
    render.plain_layout(lay)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(), follow=st.booleans())
@example(text="<script>alert(1)</script> 舟山市科技局 & 320条", follow=False)
@example(text="那科技局呢？", follow=True)
@example(text="舟山市科技局2020年公开了多少条政府信息？" * 300, follow=False)
@example(text="&amp;&lt;</b></blockquote>😀" * 50, follow=True)
@example(text="\x00\ufeff\u202e2020年的呢", follow=True)
def test_any_question_renders_valid_telegram_messages(
    chat_service: ChatService, text: str, follow: bool
) -> None:
    previous = "舟山市经信局开展了哪些普法活动？" if follow else None
    check_reply_renders(chat_service, text, previous)


@pytest.mark.parametrize(
    "question",
    [
        "舟山市科技局2020年公开了多少条政府信息？",
        "宁波市财政局2020年预算执行情况",
        "舟山经信局累计服务多少人次",
        "上城发改局 信用修复 办件量",
        "普陀区政务服务办件网上受理率的目标是多少",
    ],
)
def test_real_questions_render(chat_service: ChatService, question: str) -> None:
    check_reply_renders(chat_service, question, None)


def test_every_passage_renders(engine: Engine) -> None:
    for rep in engine.kb.reports:
        for passage in rep.passages:
            for part in render.split_html(render.passage_html(rep, passage)):
                plain, _ = parse_html(part)
                assert plain.strip() and len(part) <= LIMIT
