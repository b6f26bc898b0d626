"""End to end over real HTTP: the admin tools of the real `python bot.py` process, played
through the Bot API stand-in.

One bot process (two admins, a private copy of the knowledge folder) serves the module. Every
scenario plays admins and ordinary users and asserts on what the bot sent, on the knowledge
folder (byte for byte, history included, where nothing may change) and on the bot's log.
Questions are asked by a fresh user each time, so the per-user rate limit and follow-up
rewriting never get in the way.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from botproc import BotProcess, buttons
from conftest import KNOWLEDGE, ROOT_DIR, copy_knowledge, snapshot
from filelock import FileLock

from tests.botapi import BotApiStub, Call
from tests.e2e_documents import (
    ANCHOR_YAML,
    ENGLISH_PDF,
    HTML,
    KB_YAML,
    NINGBO,
    NO_AGENCY,
    SCANNED_PDF,
    UNKNOWN_KEY_YAML,
    make_docx,
    report_text,
    zip_bomb_docx,
)

TOKEN = "434343:E2E-admin-secret_token"
ADMIN = 4242
ADMIN2 = 4343
OUTSIDER = 5555
ZHOUSHAN_JXJ = "000_e1829581f26616c9"  # 舟山市经济和信息化局 2020
ZHOUSHAN_KJJ = "002_9e90b7df6a5084ed"  # 舟山市科学技术局 2020
PUTUO = "003_08822b4da40a8511"  # 舟山市普陀区人民政府办公室 2020
REFUSED = "只有管理员"
KNOWLEDGE_SOURCES = KNOWLEDGE / "sources"


# ================================================================ the running bot


class Bot(BotProcess):
    """A running bot process (two admins) and the stand-in it talks to."""

    def __init__(self, stub: BotApiStub, base: Path) -> None:
        super().__init__(
            stub, base / "knowledge", base / "state", base / "bot.log", TOKEN, (ADMIN, ADMIN2)
        )
        self.base = base


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    base = tmp_path_factory.mktemp("e2e_admin")
    copy_knowledge(base / "knowledge")
    with BotApiStub(TOKEN, "ReportQABot") as stub:
        for user in (ADMIN, ADMIN2, OUTSIDER):
            stub.add_user(user)
        running = Bot(stub, base)
        running.start()
        yield running
        running.stop()


# ================================================================ playing the users

_askers = itertools.count(7001)


def callback_data(params: dict) -> list[str]:  # type: ignore[type-arg]
    """Every button's callback data (labels such as 🗑 删除 repeat)."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b.get("callback_data", "") for row in rows for b in row]


def next_message(bot: Bot, chat: int, mark: int, timeout: float = 15.0) -> Call:
    return bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == chat, timeout, mark)


def say(bot: Bot, text: str, user: int = ADMIN, timeout: float = 15.0) -> Call:
    """`user` writes `text` in their private chat; the bot's next message there."""
    mark = len(bot.stub.calls)
    bot.stub.send_message(text, user_id=user)
    return next_message(bot, user, mark, timeout)


def ask(bot: Bot, question: str) -> str:
    """A fresh user asks `question`; the text (HTML as sent) of the answer."""
    return say(bot, question, user=next(_askers)).params["text"]


def ask_until(bot: Bot, question: str, ok: Callable[[str], bool], timeout: float = 8.0) -> str:
    """Ask until the answer satisfies `ok` (changes the bot notices by itself)."""
    deadline = time.monotonic() + timeout
    while True:
        text = ask(bot, question)
        if ok(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.3)


def upload(bot: Bot, name: str, data: bytes, user: int = ADMIN) -> Call:
    """`user` sends a file; the bot's next message in that chat (a preview or a refusal)."""
    mark = len(bot.stub.calls)
    bot.stub.send_document(name, data, user_id=user)
    return next_message(bot, user, mark)


def press(bot: Bot, message: Call, label: str, user: int = ADMIN) -> int:
    """`user` presses the button labelled `label` on a message the bot sent to ADMIN's chat
    (or to the chat the message is in); returns the call index to wait after."""
    mark = len(bot.stub.calls)
    chat = message.params["chat_id"]
    data = buttons(message.params)[label]
    bot.stub.press_button(message.result["message_id"], data, user_id=user, chat_id=chat)
    return mark


def edited(bot: Bot, message: Call, mark: int, timeout: float = 15.0) -> str:
    """The text the bot edited `message` to (or sent anew when the edit failed)."""
    mid, chat = message.result["message_id"], message.params["chat_id"]
    call = bot.stub.wait_for(
        "editMessageText",
        lambda p: p["chat_id"] == chat and p["message_id"] == mid,
        timeout=timeout,
        after=mark,
    )
    return call.params["text"]


def confirm(bot: Bot, preview: Call) -> str:
    assert "导入预览" in preview.params["text"], preview.params["text"]
    return edited(bot, preview, press(bot, preview, "确认入库"))


def upload_and_confirm(bot: Bot, name: str, data: bytes) -> str:
    done = confirm(bot, upload(bot, name, data))
    assert done.startswith("✅ 已入库"), done
    return done


def read_report(bot: Bot, report_id: str) -> dict:  # type: ignore[type-arg]
    """What `bot.py reports --json` lists comes from these files."""
    path = bot.knowledge / "reports" / f"{report_id}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def short_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def press_delete(bot: Bot, report_id: str, user: int = ADMIN) -> Call:
    """/reports, turn pages until the report's 🗑 删除 button shows, press it; the bot's
    confirmation question."""
    listing = say(bot, "/reports", user=user)
    mid = listing.result["message_id"]
    wanted = f"adm|del|{short_key(report_id)}"
    for _ in range(20):
        current = buttons(bot.stub.message(user, mid) or {})
        if wanted in callback_data(bot.stub.message(user, mid) or {}):
            break
        assert "下一页 ▶" in current, f"no 🗑 button for {report_id}: {current}"
        mark = len(bot.stub.calls)
        bot.stub.press_button(mid, current["下一页 ▶"], user_id=user)
        bot.stub.wait_for("editMessageText", lambda p: p["message_id"] == mid, after=mark)
    mark = len(bot.stub.calls)
    bot.stub.press_button(mid, wanted, user_id=user)
    return next_message(bot, user, mark)


def report_count(bot: Bot) -> int:
    return len(list((bot.knowledge / "reports").glob("*.yaml")))


# ================================================================ checks


def assert_preview(
    preview: Call,
    agency: str,
    title: str,
    year: int,
    doc_type: str,
    samples: tuple[str, str],
    report_id: str,
) -> None:
    text = preview.params["text"]
    assert text.startswith("<b>导入预览</b>"), text
    assert f"机构：{agency}" in text
    assert f"标题：{title}" in text
    assert f"年份：{year}" in text and f"类型：{doc_type}" in text
    assert re.search(r"章节 [1-9]\d* 个，段落 [1-9]\d* 段", text), text
    assert f"报告ID：<code>{report_id}</code>" in text
    assert text.count("<blockquote>") == 2
    for sample in samples:
        assert sample in text
    assert list(buttons(preview.params)) == ["确认入库", "修改信息", "取消"]
    assert all(d.startswith("adm|") for d in buttons(preview.params).values())


def warning_to(chat: int) -> Callable[[dict], bool]:  # type: ignore[type-arg]
    """Matches the watcher's warning about a broken knowledge folder, sent to `chat`."""
    return lambda p: p["chat_id"] == chat and "⚠️" in p["text"]


def outside_files(bot: Bot) -> set[str]:
    """Every file under the test's base folder that is not the knowledge folder's, the bot's
    state or its log: nothing may ever be written there."""
    return {
        p.relative_to(bot.base).as_posix()
        for p in bot.base.rglob("*")
        if p.is_file() and p.relative_to(bot.base).parts[0] not in ("knowledge", "state")
    } - {"bot.log"}


# ================================================================ 1. uploads


def test_gbk_txt_upload_preview_confirm_and_answer_at_once(bot: Bot) -> None:
    data = NINGBO.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    preview = upload(bot, "ningbo_czj_2021.txt", data)
    assert_preview(
        preview,
        "宁波市财政局",
        "宁波市财政局2021年法治政府建设工作总结",
        2021,
        "工作总结",
        ("全面推进财政领域法治政府建设", "局领导班子集体学法 12 次"),
        "ningbo_czj_2021",
    )
    assert "未能识别" not in preview.params["text"] and "新版本" not in preview.params["text"]
    done = confirm(bot, preview)
    assert done.startswith("✅ 已入库：宁波市财政局《宁波市财政局2021年法治政府建设工作总结》")
    assert "/undo" in done
    # at once, no restart, no /reload
    answer = ask(bot, "宁波市财政局2021年主动公开政府信息多少条？")
    assert answer.startswith("💡") and "<b>485 条</b>" in answer
    assert "宁波市财政局 · 《宁波市财政局2021年法治政府建设工作总结》" in answer
    assert (bot.knowledge / "sources" / "ningbo_czj_2021.txt").read_bytes() == data
    assert read_report(bot, "ningbo_czj_2021")["agency"] == "宁波市财政局"


def test_docx_upload(bot: Bot) -> None:
    preview = upload(bot, "wenzhou_sfj_2022.docx", make_docx())
    assert_preview(
        preview,
        "温州市司法局",
        "温州市司法局2022年法治政府建设年度报告",
        2022,
        "法治政府建设年度报告",
        ("现将本年度法治政府建设情况报告如下", "办理法律援助案件 5128 件"),
        "wenzhou_sfj_2022",
    )
    assert confirm(bot, preview).startswith("✅ 已入库：温州市司法局")
    answer = ask(bot, "温州司法局人民调解纠纷多少件")
    assert "<b>41726 件</b>" in answer and "温州市司法局 · 《" in answer


def test_html_upload_corrected_year_then_confirmed(bot: Bot) -> None:
    preview = upload(bot, "taizhou_jyj_2020.html", HTML.encode("utf-8"))
    assert_preview(
        preview,
        "台州市教育局",
        "台州市教育局2020年法治政府建设工作总结",
        2020,
        "工作总结",
        ("依法治教工作取得新进展", "法治教育进校园活动 316 场次"),
        "taizhou_jyj_2020",
    )
    assert "脚本里的文字" not in preview.params["text"]
    # 修改信息 -> the same message offers the four fields
    mark = press(bot, preview, "修改信息")
    markup = bot.stub.wait_for("editMessageReplyMarkup", after=mark).params
    fields = buttons(markup)
    assert set(fields) == {"修改机构全称", "修改年份", "修改标题", "修改文件类型"}
    mark = len(bot.stub.calls)
    bot.stub.press_button(preview.result["message_id"], fields["修改年份"], user_id=ADMIN)
    prompt = next_message(bot, ADMIN, mark).params["text"]
    assert "年份" in prompt
    # a bad year is asked again, a good one gives a new preview
    assert "四位数字" in say(bot, "去年").params["text"]
    second = say(bot, "2019")
    assert "年份：2019" in second.params["text"] and "机构：台州市教育局" in second.params["text"]
    assert confirm(bot, second).startswith("✅ 已入库：台州市教育局")
    assert read_report(bot, "taizhou_jyj_2020")["year"] == 2019
    manifest = yaml.safe_load((bot.knowledge / "sources" / "manifest.yaml").read_text("utf-8"))
    assert manifest["files"]["taizhou_jyj_2020.html"] == {"year": 2019}  # kept for rebuild
    answer = ask(bot, "台州教育局检查校外培训机构多少家次")
    assert "<b>1459 家</b>" in answer and "台州市教育局 · 《" in answer and "2019年" in answer


def test_a_correction_given_up_leaves_the_preview_to_confirm(bot: Bot) -> None:
    """修改年份, then 取消 (or a fullwidth year, asked again): the preview's own buttons still
    work, and the admin's next text is a question again."""
    text = report_text(
        "衢州市水利局",
        2022,
        [
            (
                "水利工程建设",
                "全年完成水利投资 31.6 亿元，新建和加固堤防 58 公里，圆满完成防汛任务。",
            )
        ],
    )
    preview = upload(bot, "quzhou_slj_2022.txt", text.encode("utf-8"))
    mark = press(bot, preview, "修改信息")
    fields = buttons(bot.stub.wait_for("editMessageReplyMarkup", after=mark).params)
    mark = len(bot.stub.calls)
    bot.stub.press_button(preview.result["message_id"], fields["修改年份"], user_id=ADMIN)
    assert "年份" in next_message(bot, ADMIN, mark).params["text"]
    assert "四位数字" in say(bot, "２０２１").params["text"]  # fullwidth digits: asked again
    assert "已放弃修改" in say(bot, "取消").params["text"]
    assert say(bot, "上海经信委办理信访件多少件").params["text"].startswith("💡")
    done = confirm(bot, preview)  # the buttons of the preview shown first
    assert done.startswith("✅ 已入库：衢州市水利局"), done
    assert read_report(bot, "quzhou_slj_2022")["year"] == 2022


def test_knowledge_base_yaml_upload(bot: Bot) -> None:
    preview = upload(bot, "jiaxing.yaml", KB_YAML.encode("utf-8"))
    assert_preview(
        preview,
        "嘉兴市审计局",
        "嘉兴市审计局2019年法治政府建设工作总结",
        2019,
        "工作总结",
        ("完成审计项目 87 个", "举办专题法治讲座 14 场"),
        "jiaxing-audit-2019",
    )
    assert confirm(bot, preview).startswith("✅ 已入库：嘉兴市审计局")
    assert read_report(bot, "jiaxing-audit-2019")["passages"][1]["text"].endswith("14 场。")
    answer = ask(bot, "嘉兴审计局举办法治讲座多少场")
    assert "<b>14 场</b>" in answer and "嘉兴市审计局 · 《" in answer


def test_cancel_leaves_the_folder_byte_identical(bot: Bot) -> None:
    before = snapshot(bot.knowledge, history=True)
    text = report_text(
        "丽水市林业局",
        2021,
        [
            (
                "森林资源保护",
                "全年查处破坏森林资源案件 57 起，恢复林地面积 1290 亩，森林覆盖率稳定在百分之八十以上。",
            )
        ],
    )
    preview = upload(bot, "lishui_lyj_2021.txt", text.encode("utf-8"))
    assert "机构：丽水市林业局" in preview.params["text"]
    cancelled = edited(bot, preview, press(bot, preview, "取消"))
    assert "已取消" in cancelled and "没有任何改动" in cancelled
    assert not buttons(bot.stub.message(ADMIN, preview.result["message_id"]) or {})
    assert snapshot(bot.knowledge, history=True) == before
    assert "丽水市林业局" not in ask(bot, "丽水林业局查处破坏森林资源案件多少起")
    # the cancelled preview's buttons are gone; a stale press is answered, not acted on
    mark = len(bot.stub.calls)
    bot.stub.push_update(
        "callback_query",
        {
            "id": "stale-ok",
            "from": {"id": ADMIN, "is_bot": False, "first_name": "管理员"},
            "chat_instance": "x",
            "message": bot.stub.message(ADMIN, preview.result["message_id"]),
            "data": buttons(preview.params)["确认入库"],
        },
    )
    stale = bot.stub.wait_for("answerCallbackQuery", after=mark, ok=None).params
    assert "过期" in stale["text"]
    assert snapshot(bot.knowledge, history=True) == before


# ================================================================ 2. a new version


def test_updated_version_shows_the_diff_and_then_serves_the_new_text(bot: Bot) -> None:
    old_items = [
        (
            "统计执法检查",
            "全年开展统计执法检查 66 次，立案查处统计违法案件 14 件，统计数据质量稳步提升。",
        ),
        (
            "统计普法宣传",
            "组织开展统计法宣传进企业活动，覆盖规模以上企业 820 家，发放宣传资料 4300 份。",
        ),
    ]
    upload_and_confirm(
        bot, "huzhou_tjj_2021.txt", report_text("湖州市统计局", 2021, old_items).encode()
    )
    assert "<b>66 次</b>" in ask(bot, "湖州统计局开展统计执法检查多少次")
    new_items = [
        (
            "统计执法检查",
            "全年开展统计执法检查 91 次，立案查处统计违法案件 14 件，统计数据质量稳步提升。",
        ),
        old_items[1],
        (
            "统计诚信建设",
            "建立统计诚信档案 1170 份，对严重失信企业实施联合惩戒 6 家，诚信意识明显增强。",
        ),
    ]
    preview = upload(
        bot, "huzhou_tjj_2021.txt", report_text("湖州市统计局", 2021, new_items).encode()
    )
    text = preview.params["text"]
    assert "新版本" in text, text
    assert "新增 1 段" in text and "删除 0 段" in text and "修改 1 段" in text
    assert confirm(bot, preview).startswith("✅ 已入库：湖州市统计局")
    answer = ask(bot, "湖州统计局开展统计执法检查多少次")
    assert "<b>91 次</b>" in answer and "66" not in answer
    assert "<b>1170 份</b>" in ask(bot, "湖州统计局建立统计诚信档案多少份")


# ================================================================ 3. bad uploads


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.txt", b"", "文件为空"),
        ("random.txt", random.Random(7).randbytes(4096), "不是文本报告"),
        ("bomb.docx", zip_bomb_docx(), "压缩炸弹"),
        ("scan.pdf", SCANNED_PDF, "没有文字层"),
        ("english.pdf", ENGLISH_PDF, "没有找到中文正文"),
        ("unknown_key.yaml", UNKNOWN_KEY_YAML.encode(), f"第 {UNKNOWN_KEY_YAML.count(chr(10))} 行"),
        ("anchor.yaml", ANCHOR_YAML.encode(), "anchors and aliases are not allowed"),
        ("old_word.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "不支持的文件类型"),
    ],
    ids=[
        "empty",
        "binary",
        "zip-bomb",
        "pdf-no-text-layer",
        "pdf-no-chinese",
        "yaml-unknown-key",
        "yaml-anchor",
        "doc",
    ],
)
def test_bad_upload_is_refused_clearly_and_changes_nothing(
    bot: Bot, name: str, data: bytes, expected: str
) -> None:
    before = snapshot(bot.knowledge, history=True)
    reply = upload(bot, name, data).params
    assert reply["text"].startswith("❌ 无法导入"), reply["text"]
    assert expected in reply["text"] and name in reply["text"]
    assert "知识库没有任何改动" in reply["text"]
    assert not buttons(reply)
    assert snapshot(bot.knowledge, history=True) == before


def test_file_over_20_mb_is_refused_before_downloading(bot: Bot) -> None:
    before = snapshot(bot.knowledge, history=True)
    mark = len(bot.stub.calls)
    reply = upload(bot, "huge.txt", b"a" * (20 * 1024 * 1024 + 1)).params
    assert "超过 20 MB" in reply["text"]
    assert not [c for c in bot.stub.calls[mark:] if c.method in ("getFile", "file")]
    assert snapshot(bot.knowledge, history=True) == before


def test_path_in_the_file_name_never_escapes_the_knowledge_folder(bot: Bot) -> None:
    outside = outside_files(bot)
    text = report_text(
        "衢州市水利局",
        2021,
        [
            (
                "水利工程建设",
                "全年完成水利工程建设投资 18.6 亿元，新建加固堤防 74 公里，除险加固水库 12 座。",
            )
        ],
    )
    preview = upload(bot, "../../etc/passwd.txt", text.encode("utf-8"))
    assert "报告ID：<code>passwd</code>" in preview.params["text"]
    assert confirm(bot, preview).startswith("✅ 已入库：衢州市水利局")
    assert (bot.knowledge / "sources" / "passwd.txt").read_bytes() == text.encode("utf-8")
    assert read_report(bot, "passwd")["source_file"] == "passwd.txt"
    assert outside_files(bot) == outside
    assert not list(bot.base.rglob("etc"))
    answer = ask(bot, "衢州水利局完成水利工程建设投资多少亿元")
    assert "<b>18.6 亿元</b>" in answer and "衢州市水利局 · 《" in answer


def test_text_without_a_detectable_agency_is_stored_and_cited_by_its_title(bot: Bot) -> None:
    reply = upload(bot, "noagency_2021.txt", NO_AGENCY.encode("utf-8"))
    text = reply.params["text"]
    assert "未能识别" in text and "机构" in text and "也可以入库" in text, text
    done = confirm(bot, reply)
    assert done.startswith("✅ 已入库"), done
    assert read_report(bot, "noagency_2021")["agency"] == ""
    answer = ask(bot, "全年受理群众来信来访多少件？")
    assert "<b>73 件</b>" in answer and "未知机构" not in answer, answer
    assert "《" in answer


def test_text_without_agency_gets_a_preview_that_can_be_corrected(bot: Bot) -> None:
    reply = upload(bot, "noagency_fix_2021.txt", NO_AGENCY.encode("utf-8"))
    assert "未能识别" in reply.params["text"] and "机构" in reply.params["text"], reply.params
    try:
        mark = press(bot, reply, "修改信息")
        fields = buttons(bot.stub.wait_for("editMessageReplyMarkup", after=mark).params)
        mark = len(bot.stub.calls)
        bot.stub.press_button(reply.result["message_id"], fields["修改机构全称"], user_id=ADMIN)
        next_message(bot, ADMIN, mark)
        fixed = say(bot, "绍兴市民政局")
        assert "机构：绍兴市民政局" in fixed.params["text"]
        assert "未能识别" not in fixed.params["text"]
    finally:
        say(bot, "取消")


def test_chinese_file_names_do_not_make_unrelated_reports_collide(bot: Bot) -> None:
    first = report_text(
        "金华市商务局",
        2021,
        [
            (
                "外贸促进",
                "全年组织企业参加境内外展会 132 场，帮助企业获得订单金额 47 亿元，外贸出口稳中有进。",
            )
        ],
    )
    second = report_text(
        "绍兴市民政局",
        2021,
        [("社会救助", "全年发放最低生活保障金 3.2 亿元，保障困难群众 41000 余人，实现应保尽保。")],
    )
    upload_and_confirm(bot, "金华市商务局2021年法治政府建设工作总结.txt", first.encode())
    preview = upload(bot, "绍兴市民政局2021年法治政府建设工作总结.txt", second.encode())
    try:
        assert "新版本" not in preview.params["text"], preview.params["text"]
    finally:
        press(bot, preview, "取消")


def test_removing_a_report_never_deletes_files_outside_the_folder(bot: Bot) -> None:
    victim = bot.base / "victim.txt"
    victim.write_text("不能被删除的文件", encoding="utf-8")
    evil = KB_YAML.replace("jiaxing-audit-2019", "evil-source").replace(
        "source_file: ''", "source_file: ../../victim.txt"
    )
    preview = upload(bot, "evil.yaml", evil.encode("utf-8"))
    if "确认入库" in buttons(preview.params):  # refusing it at upload would be fine too
        assert confirm(bot, preview).startswith("✅")
        ask_delete = press_delete(bot, "evil-source")
        assert edited(bot, ask_delete, press(bot, ask_delete, "确认删除")).startswith("🗑")
    assert victim.exists()


# ================================================================ 4. curated facts


def test_addfact_one_shot_answers_first_is_listed_and_deleted(bot: Bot) -> None:
    question = "舟山市经信局聘请的常年法律顾问是哪一家律师事务所"
    answer = "浙江海天律师事务所（测试问答）"
    reply = say(bot, f"/addfact {question} | {answer} | {ZHOUSHAN_JXJ} | 舟山经信局找的是哪家律所")
    found = re.match(r"✅ 已添加问答 (f\d+)（改动 #\d+）", reply.params["text"])
    assert found, reply.params["text"]
    fact_id = found.group(1)
    got = ask(bot, question)
    assert got.startswith(f"💡 {answer}") and "舟山市经济和信息化局" in got
    assert ask(bot, "舟山经信局找的是哪家律所？").startswith(f"💡 {answer}")  # the alternative
    listing = say(bot, "/facts").params["text"]
    assert f"<code>{fact_id}</code> {question} → {answer}" in listing
    assert f"🗑 已删除问答 {fact_id}" in say(bot, f"/delfact {fact_id}").params["text"]
    assert f"<code>{fact_id}</code>" not in say(bot, "/facts").params["text"]
    assert answer not in ask(bot, question)
    assert "❌" in say(bot, f"/delfact {fact_id}").params["text"]  # already gone
    assert "用法" in say(bot, "/addfact 只有问题 | 没有报告").params["text"]


def test_addfact_step_by_step(bot: Bot) -> None:
    question = "舟山市科技局聘请的常年法律顾问是哪一家律师事务所"
    answer = "浙江六和律师事务所舟山分所（逐步添加）"
    assert "请发送问题" in say(bot, "/addfact").params["text"]
    assert "其他问法" in say(bot, question).params["text"]
    assert "答案" in say(bot, "无").params["text"]
    listing = say(bot, answer).params["text"]
    assert f"<code>{ZHOUSHAN_KJJ}</code> 舟山市科学技术局" in listing
    done = say(bot, ZHOUSHAN_KJJ).params["text"]
    fact_id = re.match(r"✅ 已添加问答 (f\d+)", done).group(1)  # type: ignore[union-attr]
    assert ask(bot, question).startswith(f"💡 {answer}")
    # phrased another way, still the curated answer
    assert ask(bot, "请问舟山市科技局聘请的常年法律顾问是哪家律师事务所？").startswith(
        f"💡 {answer}"
    )
    facts = yaml.safe_load((bot.knowledge / "facts.yaml").read_text("utf-8"))["facts"]
    saved = next(f for f in facts if f["id"] == fact_id)
    assert saved == {
        "id": fact_id,
        "question": question,
        "answer": answer,
        "report_id": ZHOUSHAN_KJJ,
    }
    # the dialogue is over: the next text is a question again
    assert say(bot, "上海经信委办理信访件多少件").params["text"].startswith("💡")
    say(bot, f"/delfact {fact_id}")


def test_addfact_dialogue_can_be_cancelled_at_any_step(bot: Bot) -> None:
    facts_before = (bot.knowledge / "facts.yaml").read_bytes()
    assert "请发送问题" in say(bot, "/addfact").params["text"]
    assert "其他问法" in say(bot, "一个不会保存的问题").params["text"]
    assert "已取消添加问答" in say(bot, "取消").params["text"]
    assert (bot.knowledge / "facts.yaml").read_bytes() == facts_before
    # the dialogue is over: 取消 again is a question, and /addfact starts afresh
    assert "已取消添加问答" not in say(bot, "取消").params["text"]
    assert "请发送问题" in say(bot, "/addfact").params["text"]
    assert "已取消添加问答" in say(bot, "取消").params["text"]


def test_fifty_addfacts_from_two_admins_at_once(bot: Bot) -> None:
    stub = bot.stub
    mark = len(stub.calls)
    started = time.monotonic()
    for i in range(25):
        for admin in (ADMIN, ADMIN2):
            n = i * 2 + (admin == ADMIN2)
            stub.send_message(
                f"/addfact 批量测试问题第{n}号 | 批量测试答案{n} | {ZHOUSHAN_JXJ}", user_id=admin
            )
    deadline = time.monotonic() + 120
    done: list[Call] = []
    while time.monotonic() < deadline:
        done = [
            c
            for c in stub.calls[mark:]
            if c.method == "sendMessage" and c.ok and c.params["chat_id"] in (ADMIN, ADMIN2)
        ]
        if len(done) >= 50:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    texts = [c.params["text"] for c in done]
    assert len(texts) == 50, (elapsed, texts[-3:])
    assert all(t.startswith("✅ 已添加问答 f") for t in texts), [t for t in texts if "✅" not in t]
    assert sum(c.params["chat_id"] == ADMIN2 for c in done) == 25
    replied = {re.match(r"✅ 已添加问答 (f\d+)", t).group(1) for t in texts}  # type: ignore[union-attr]
    assert len(replied) == 50
    facts = yaml.safe_load((bot.knowledge / "facts.yaml").read_text("utf-8"))["facts"]
    batch = [f for f in facts if f["question"].startswith("批量测试问题")]
    assert len(batch) == 50 and {f["id"] for f in batch} == replied
    assert len({f["id"] for f in facts}) == len(facts)
    assert {f["question"] for f in batch} == {f"批量测试问题第{n}号" for n in range(50)}
    print(f"\n50 /addfact handled in {elapsed:.1f}s")


# ================================================================ 5. removal, undo, history


def test_remove_a_report_from_reports_then_undo(bot: Bot) -> None:
    question = "舟山市科技局2020年在市政府信息公开网站公开了多少条信息？"
    assert "<b>320条</b>" in ask(bot, question)
    listing = say(bot, "/reports")
    deletes = [d for d in callback_data(listing.params) if d.startswith("adm|del|")]
    assert len(deletes) == min(report_count(bot), 8)  # one 🗑 删除 per report on the page
    confirm_delete = press_delete(bot, ZHOUSHAN_KJJ)
    assert "确定删除 舟山市科学技术局" in confirm_delete.params["text"]
    assert set(buttons(confirm_delete.params)) == {"确认删除", "取消"}
    done = edited(bot, confirm_delete, press(bot, confirm_delete, "确认删除"))
    assert done.startswith(f"🗑 已删除 {ZHOUSHAN_KJJ}")
    assert not (bot.knowledge / "reports" / f"{ZHOUSHAN_KJJ}.yaml").exists()
    gone = ask(bot, question)
    assert "舟山市科学技术局" not in gone and "320" not in gone
    undone = say(bot, "/undo").params["text"]
    assert undone.startswith("↩️ 已撤销") and ZHOUSHAN_KJJ in undone
    assert "<b>320条</b>" in ask(bot, question)
    history = say(bot, "/history").params["text"]
    assert f"remove-report {ZHOUSHAN_KJJ}" in history
    assert re.search(rf"telegram:{ADMIN} undo #\d+ remove-report {ZHOUSHAN_KJJ}", history)


# ================================================================ 6. statistics


def test_kbstats_unanswered_and_feedback(bot: Bot) -> None:
    missed = "火星基地2099年一共种植了多少棵土豆？"
    assert "没有找到" in ask(bot, missed)
    user = next(_askers)
    reply = say(bot, "上海经信委办理信访件多少件", user=user)
    assert "1704件" in reply.params["text"]
    mark = press(bot, reply, "👎", user=user)
    assert "感谢" in bot.stub.wait_for("answerCallbackQuery", after=mark).params["text"]
    stats = say(bot, "/kbstats").params["text"]
    assert f"报告 {report_count(bot)} 份" in stats
    today = re.search(r"今天：(\d+) 个，已回答 (\d+)，未回答 (\d+)", stats)
    assert today and int(today.group(1)) >= 2 and int(today.group(3)) >= 1, stats
    assert missed in say(bot, "/unanswered").params["text"]
    assert "· 上海经信委办理信访件多少件（" in say(bot, "/feedback").params["text"]


# ================================================================ 7. everyone else


def test_non_admin_is_refused_everything_and_nothing_changes(bot: Bot) -> None:
    stub = bot.stub
    preview = upload(
        bot,
        "shaoxing_mzj_2020.txt",
        report_text(
            "绍兴市民政局",
            2020,
            [
                (
                    "养老服务",
                    "全年新建居家养老服务照料中心 48 家，培训养老护理员 2300 人次，养老服务质量持续提升。",
                )
            ],
        ).encode(),
    )
    assert "导入预览" in preview.params["text"]
    admin_listing = say(bot, "/reports")
    before = snapshot(bot.knowledge, history=True)
    log_before = bot.log_text().count(f"refused admin action from user {OUTSIDER}")
    commands = [
        f"/addfact x | y | {ZHOUSHAN_JXJ}",
        "/addfact",
        "/facts",
        "/delfact f1",
        "/reload",
        "/undo",
        "/history",
        "/kbstats",
        "/unanswered",
        "/feedback",
    ]
    for command in commands:
        reply = say(bot, command, user=OUTSIDER).params
        assert REFUSED in reply["text"] and len(reply["text"]) < 40, (command, reply)
        assert not buttons(reply)
    reply = upload(bot, "intruder.txt", NINGBO.encode(), user=OUTSIDER).params
    assert REFUSED in reply["text"]
    # buttons of the admin's own messages, pressed by someone else
    for message, label in [(preview, "确认入库"), (preview, "修改信息"), (preview, "取消")]:
        mark = press(bot, message, label, user=OUTSIDER)
        answer = stub.wait_for("answerCallbackQuery", after=mark).params
        assert REFUSED in answer["text"] and answer.get("show_alert") is True
    delete = next(d for d in buttons(admin_listing.params).values() if d.startswith("adm|del|"))
    mark = len(stub.calls)
    stub.press_button(admin_listing.result["message_id"], delete, user_id=OUTSIDER, chat_id=ADMIN)
    assert REFUSED in stub.wait_for("answerCallbackQuery", after=mark).params["text"]
    # a forged delete confirmation in the outsider's own chat
    own = say(bot, "/reports", user=OUTSIDER)
    assert not [d for d in buttons(own.params).values() if d.startswith("adm|")]
    mark = len(stub.calls)
    stub.push_update(
        "callback_query",
        {
            "id": "forged-delok",
            "from": {"id": OUTSIDER, "is_bot": False, "first_name": "路人"},
            "chat_instance": "y",
            "message": stub.message(OUTSIDER, own.result["message_id"]),
            "data": delete.replace("adm|del|", "adm|delok|"),
        },
    )
    assert REFUSED in stub.wait_for("answerCallbackQuery", after=mark, ok=None).params["text"]
    # the log says which button was pressed, not the text of the message it sat under
    forged = delete.replace("adm|del|", "adm|delok|")
    assert f"refused admin action from user {OUTSIDER}: button '{forged}'" in bot.log_text()
    assert "upload 'intruder.txt'" in bot.log_text()
    # the outsider's plain text is just a question, never an admin dialogue step
    assert "年份" not in say(bot, "2019", user=OUTSIDER).params["text"]
    time.sleep(0.5)
    assert snapshot(bot.knowledge, history=True) == before
    refusals = bot.log_text().count(f"refused admin action from user {OUTSIDER}") - log_before
    assert refusals >= len(commands) + 1 + 3 + 2, refusals
    # the admin's preview still works after all that
    cancelled = edited(bot, preview, press(bot, preview, "取消"))
    assert "已取消" in cancelled


# ================================================================ 8. the folder watcher


def test_hand_edits_are_picked_up_and_broken_ones_reported(bot: Bot) -> None:
    path = bot.knowledge / "reports" / f"{ZHOUSHAN_KJJ}.yaml"
    original = path.read_bytes()
    question = "舟山市科技局2020年在市政府信息公开网站公开了多少条信息？"
    assert "<b>320条</b>" in ask(bot, question)
    text = original.decode("utf-8")
    assert text.count("公开信息数320条") == 1
    try:
        started = time.monotonic()
        with path.open("w", encoding="utf-8") as f:  # a plain write, as an editor would
            f.write(text.replace("公开信息数320条", "公开信息数357条"))
        answer = ask_until(bot, question, lambda a: "<b>357条</b>" in a, timeout=8)
        picked_up = time.monotonic() - started
        assert "<b>357条</b>" in answer and picked_up < 6.5, picked_up

        mark = len(bot.stub.calls)
        broken = text.replace("320条", "357条") + "reviewer: 张三\n"
        line = broken.count("\n")
        path.write_text(broken, encoding="utf-8")
        for admin in (ADMIN, ADMIN2):
            warning = bot.stub.wait_for(
                "sendMessage",
                warning_to(admin),
                timeout=8,
                after=mark,
            ).params["text"]
            assert "仍在使用上一个版本" in warning
            assert f"{ZHOUSHAN_KJJ}.yaml:{line}: unknown key 'reviewer'" in warning, warning
        assert "<b>357条</b>" in ask(bot, question)  # the last good version serves on
        assert "<b>357条</b>" in ask(bot, question)

        path.write_text(text.replace("320条", "388条"), encoding="utf-8")
        answer = ask_until(bot, question, lambda a: "<b>388条</b>" in a, timeout=8)
        assert "<b>388条</b>" in answer
        assert "✅ 已重新读取知识库" in say(bot, "/reload").params["text"]
        warnings = [
            c
            for c in bot.stub.calls[mark:]
            if c.method == "sendMessage" and "⚠️" in c.params["text"]
        ]
        assert len(warnings) == 2  # reported once to each admin, not at every look
        print(f"\nhand edit picked up after {picked_up:.1f}s")
    finally:
        path.write_bytes(original)
    assert "<b>320条</b>" in ask_until(bot, question, lambda a: "<b>320条</b>" in a, timeout=8)


def test_broken_edit_of_a_report_with_facts_names_the_broken_line(bot: Bot) -> None:
    facts_path = bot.knowledge / "facts.yaml"
    citing = [
        f
        for f in (
            yaml.safe_load(facts_path.read_text("utf-8"))["facts"] if facts_path.exists() else []
        )
        if f["report_id"] == ZHOUSHAN_JXJ
    ]
    for n in range(len(citing), 8):  # self-contained: make sure 8 facts cite the report
        reply = say(bot, f"/addfact 引用测试问题{n} | 引用测试答案{n} | {ZHOUSHAN_JXJ}")
        assert reply.params["text"].startswith("✅")
    path = bot.knowledge / "reports" / f"{ZHOUSHAN_JXJ}.yaml"
    original = path.read_bytes()
    broken = original.decode("utf-8") + "reviewer: 张三\n"
    mark = len(bot.stub.calls)
    try:
        path.write_text(broken, encoding="utf-8")
        warning = bot.stub.wait_for(
            "sendMessage",
            lambda p: p["chat_id"] == ADMIN and "⚠️" in p["text"],
            timeout=8,
            after=mark,
        ).params["text"]
        assert f"{ZHOUSHAN_JXJ}.yaml:{broken.count(chr(10))}: unknown key" in warning, warning
    finally:
        path.write_bytes(original)
        time.sleep(2.5)  # let the watcher load the good version again


def test_the_word_xinjian_is_not_taken_for_a_place(bot: Bot) -> None:
    if not (bot.knowledge / "reports" / "passwd.yaml").exists():
        test_path_in_the_file_name_never_escapes_the_knowledge_folder(bot)
    answer = ask(bot, "衢州水利局新建加固堤防多少公里")
    assert "<b>74 公里</b>" in answer, answer


# ================================================================ 9. the shell and the chat at once


def test_shell_remove_racing_an_upload_confirmation(bot: Bot) -> None:
    text = report_text(
        "舟山市体育局",
        2021,
        [
            (
                "全民健身",
                "全年新建百姓健身房 37 个，举办全民健身赛事活动 214 场，参与群众超过 15 万人次。",
            )
        ],
    )
    preview = upload(bot, "zhoushan_tyj_2021.txt", text.encode("utf-8"))
    assert "导入预览" in preview.params["text"]
    assert (bot.knowledge / "reports" / f"{PUTUO}.yaml").exists()
    # Hold the knowledge folder's lock (as a third writer would) while the admin confirms and
    # the shell removes, so both are really waiting for it at the same time.
    with FileLock(str(bot.knowledge / ".lock")):
        mark = press(bot, preview, "确认入库")
        shell = subprocess.Popen(
            [sys.executable, "bot.py", "remove", PUTUO],
            cwd=ROOT_DIR,
            env=bot.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        assert shell.poll() is None  # the shell waits for the lock ...
        assert not [
            c for c in bot.stub.calls[mark:] if c.method == "editMessageText"
        ]  # ... the bot too
    done = edited(bot, preview, mark, timeout=30)
    _, err = shell.communicate(timeout=60)
    assert shell.returncode == 0, err.decode("utf-8", "replace")
    assert done.startswith("✅ 已入库：舟山市体育局"), done
    assert not (bot.knowledge / "reports" / f"{PUTUO}.yaml").exists()
    assert (bot.knowledge / "reports" / "zhoushan_tyj_2021.yaml").exists()
    audit = [
        (r["action"], r["target"])
        for r in (
            json.loads(line)
            for line in (bot.knowledge / ".history" / "audit.jsonl").read_text("utf-8").splitlines()
        )
    ]
    assert ("remove-report", PUTUO) in audit and ("add-report", "zhoushan_tyj_2021") in audit
    # the bot serves both: the new report at once, the removal within a watcher period
    assert "<b>214 场</b>" in ask(bot, "舟山体育局举办全民健身赛事活动多少场")
    expected = report_count(bot)
    deadline = time.monotonic() + 8
    while f"共 {expected} 份" not in (listing := say(bot, "/reports").params["text"]):
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)


# ================================================================ 10. faults the probe found


def large_report(chars: int) -> str:
    """A long but ordinary report: a real report's text, its year changed in each copy."""
    base = (KNOWLEDGE_SOURCES / f"{ZHOUSHAN_JXJ}.txt").read_text(encoding="utf-8")
    parts, size, i = [], 0, 0
    while size < chars:
        parts.append(base.replace("2020", str(1990 + i % 30)))
        size += len(parts[-1]) + 1
        i += 1
    return "\n".join(parts)


def test_questions_are_answered_while_a_large_upload_is_read(bot: Bot) -> None:
    """A 1.9-million-character report takes seconds to read: meanwhile other users' questions
    are answered as usual (the upload is read in another process, not in the bot's way)."""
    mark = len(bot.stub.calls)
    bot.stub.send_document("big.txt", large_report(1_900_000).encode(), user_id=ADMIN)
    answered = []
    for _ in range(5):
        answered.append(
            say(bot, "舟山市经信局2020年班子成员开展了几次法律法规学习？", user=next(_askers))
        )
    preview = bot.stub.wait_for("sendMessage", lambda p: p["chat_id"] == ADMIN, 120, mark)
    assert "导入预览" in preview.params["text"], preview.params["text"]
    assert all(a.index < preview.index for a in answered), "questions waited for the upload"
    assert all("<b>6 次</b>" in a.params["text"] for a in answered)
    cancelled = edited(bot, preview, press(bot, preview, "取消"))
    assert "已取消" in cancelled


def test_an_80_character_file_name_is_saved_and_answers(bot: Bot) -> None:
    name = "丽水市水利局" + "法治政府建设年度工作总结报告" * 5 + "最终版.txt"
    assert len(name) >= 80 and len(name.encode()) > 200
    text = report_text(
        "丽水市水利局",
        2021,
        [("河湖管理", "全年清理河道障碍物 3817 处，完成河湖划界 126 条，河湖面貌明显改善。")],
    )
    done = upload_and_confirm(bot, name, text.encode())
    assert "丽水市水利局" in done
    kept = [p.name for p in (bot.knowledge / "sources").iterdir() if p.name.startswith("丽水市")]
    assert len(kept) == 1 and len(kept[0].encode()) <= 150, kept
    assert "<b>3817 处</b>" in ask(bot, "丽水市水利局2021年清理河道障碍物多少处？")


def test_an_admin_cannot_act_on_another_admins_upload(bot: Bot) -> None:
    text = report_text(
        "湖州市林业局",
        2021,
        [("森林防火", "全年组织森林防火巡查 5210 人次，未发生重大森林火灾，森林覆盖率稳定。")],
    )
    preview = upload(bot, "huzhou_lyj_2021.txt", text.encode())
    before = snapshot(bot.knowledge, history=True)
    for label in ("确认入库", "修改信息", "取消"):
        mark = press(bot, preview, label, user=ADMIN2)
        answer = bot.stub.wait_for("answerCallbackQuery", after=mark).params
        assert "另一位管理员" in answer["text"] and answer.get("show_alert") is True, answer
    time.sleep(0.3)
    assert snapshot(bot.knowledge, history=True) == before
    assert confirm(bot, preview).startswith("✅ 已入库：湖州市林业局")  # still its owner's


def test_history_pages_in_the_chat(bot: Bot) -> None:
    first = say(bot, "/history").params["text"]
    total = int(re.search(r"共 (\d+) 条", first).group(1))  # type: ignore[union-attr]
    assert "第 1/" in first
    if total > 15:
        assert "/history 2" in first
        second = say(bot, "/history 2").params["text"]
        assert "第 2/" in second and second != first
    assert "没有第 99 页" in say(bot, "/history 99").params["text"]
