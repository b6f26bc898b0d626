"""handlers/callbacks.py: one codec for every button's callback data (at most 64 bytes)."""

from __future__ import annotations

import re

import pytest

from handlers import callbacks as cb
from reportqa.models import KnowledgeBase, Passage, Report


def test_each_kind_round_trips() -> None:
    assert cb.parse_more(cb.more("q1", 3)) == ("q1", 3)
    assert cb.parse_more("m|q1|x") == ("q1", 0)  # a damaged index shows the answer
    assert cb.parse_vote(cb.vote(True, "q1")) == (True, "q1")
    assert cb.parse_vote(cb.vote(False, "q1")) == (False, "q1")
    assert cb.arg(cb.open_passage("abc")) == cb.passage_key("abc")
    assert cb.arg(cb.ask("q9")) == "q9"
    assert cb.parse_page(cb.page(cb.REPORT_PAGE, 2)) == 2
    assert cb.arg(cb.choose(cb.AGENCY, "k1")) == "k1"
    assert cb.parse_admin(cb.upload("set", "t1", "year")) == ("set", ["t1", "year"])
    assert cb.parse_admin(cb.upload("ok", "t1")) == ("ok", ["t1", ""])
    assert cb.parse_admin(cb.remove_report("k1", confirmed=True)) == ("delok", ["k1", ""])
    assert cb.parse_admin(cb.CANCEL) == ("cancel", ["", ""])
    assert cb.choose(cb.REMOVE_PREFIX, "k1") == cb.remove_report("k1")


def test_the_wire_format_is_stable() -> None:  # buttons sent before an upgrade keep working
    assert cb.more("q1", 1) == "m|q1|1"
    assert cb.vote(False, "q1") == "f|-|q1"
    assert cb.upload("set", "t", "year") == "adm|set|t|year"
    assert cb.open_passage("abc") == "o|a9993e364706"  # sha1 of the passage id, 12 hex digits


def test_a_passage_key_finds_its_passage_while_the_knowledge_base_holds_it() -> None:
    long_id = "report-" + "x" * 100  # longer than a button can carry
    passage = Passage(long_id, ("一、",), "正文。")
    report = Report("r1", "标题", "某局", 2020, "工作总结", "r1.txt", (passage,))
    kb = KnowledgeBase((report,), ())
    key = cb.arg(cb.open_passage(long_id))
    assert cb.find_passage(kb, key) == (report, passage)
    assert cb.find_passage(KnowledgeBase((), ()), key) is None  # removed since
    assert cb.find_passage(kb, "unknown") is None


def test_the_64_byte_limit_is_checked_when_encoding() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        cb.ask("问" * 30)


def test_each_pattern_takes_only_its_kind() -> None:
    assert re.match(cb.pattern(cb.MORE), "m|q|1") and not re.match(cb.pattern(cb.MORE), "mm|q")
    both = cb.pattern(cb.AGENCY_PAGE, cb.REPORT_PAGE)
    assert re.match(both, "a|1") and re.match(both, "r|1") and not re.match(both, "A|k")
    uploads = cb.admin_pattern(*cb.UPLOAD_ACTIONS)
    assert re.match(uploads, "adm|ok|t") and not re.match(uploads, "adm|del|k")
    assert re.match(cb.admin_pattern("cancel"), cb.CANCEL)
    assert not re.match(cb.admin_pattern(*cb.REMOVE_ACTIONS), "adm|delx|k")
