"""The console chat (console.Console): the bot's commands and wording as plain text."""

from __future__ import annotations

from pathlib import Path

import pytest

import render
from chat import ChatService, classify
from console import CHOOSING, Console


@pytest.fixture
def console(engine, tmp_path: Path) -> Console:  # type: ignore[no-untyped-def]
    return Console(ChatService(lambda: engine, tmp_path))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("帮助", "help"),
        ("HELP", "help"),
        (" ？ ", "help"),
        ("你好", "chitchat"),
        ("您好！", "chitchat"),
        ("谢谢啊", "chitchat"),
        ("Thanks!", "chitchat"),
        ("你是谁？", "chitchat"),
        ("好的", "chitchat"),
        ("舟山市科技局2020年公开了多少条政府信息？", None),
        ("帮助企业纾困做了什么", None),
        ("你好，上城发改局信用修复办了多少件", None),
    ],
)
def test_classify(text: str, kind: str | None) -> None:
    assert classify(text) == kind


def test_help_and_the_word_help_give_the_bots_help(console: Console) -> None:
    expected = render.to_plain(render.HELP) + "\n" + CHOOSING
    assert console.reply("/help") == expected
    assert console.reply("帮助") == expected
    assert "<b>" not in expected and expected.startswith("怎么提问\n")


def test_start_lists_what_it_holds_and_examples_that_answer(console: Console) -> None:
    text = console.reply("/start")
    assert text.startswith("您好！我是政府报告问答机器人")
    assert "知识库收录 5 份报告（2020–2023 年），来自 5 个机构" in text
    examples = [line[4:] for line in text.splitlines() if line.startswith("  · ")]
    assert len(examples) == 3
    assert all(console.service.engine.ask(q).answered for q in examples)


def test_small_talk_is_not_answered_with_a_passage(console: Console) -> None:
    text = console.reply("你好")
    assert text.startswith("我是政府报告问答机器人") and "——" not in text


def test_agencies_are_numbered_and_choosing_one_restricts_the_questions(
    console: Console,
) -> None:
    listing = console.reply("/agencies").splitlines()
    assert listing[0] == "知识库中的机构（共 5 个）："
    assert listing[2] == "  2. 杭州市上城区发展改革和经济信息化局（1 份）"
    chosen = console.reply("/agencies 2")
    assert (
        chosen
        == "好的，接下来只在「杭州市上城区发展改革和经济信息化局（1 份）」中查找。发送 /all 取消限定。"
    )
    answer = console.reply("信用修复办了多少件")
    assert "杭州市上城区发展改革和经济信息化局 · " in answer
    assert console.reply("/all") == "好的，接下来的问题将在全部报告中查找。"
    assert console.reply("/agencies 9") == "请在 1 到 5 之间选择机构编号。"


def test_reports_unknown_commands_and_ask(console: Console) -> None:
    listing = console.reply("/reports")
    assert listing.splitlines()[0] == "知识库中的报告（共 5 个）："
    assert "2020 舟山市科学技术局 · 舟山市科学技术局2020年法治舟山(法治政府)工作总结" in listing
    assert console.reply("/foo") == "没有 /foo 这个命令。发送 /help 查看用法。"
    assert console.reply("/ask") == "用法：/ask 问题"
    assert "320" in console.reply("/ask 舟山市科技局2020年公开了多少条政府信息？")
