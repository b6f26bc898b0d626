"""Callback data of every button, in one place: an encoder and a decoder a kind, and the
pattern its one CallbackQueryHandler is registered with. Telegram allows 64 bytes; every
encoder checks it. A button keeps working after a restart as long as the question, passage
or upload it names is still known.

    m|<qid>|<i>          more results: show result i of the question
    o|<pkey>             the whole passage (原文)
    f|+|<qid>            feedback 👍 (f|-| for 👎)
    q|<qid>              ask a stored question (example and nearest-topic buttons)
    a|<page>  A|<key>    agencies page; choose an agency
    r|<page>  R|<key>    reports page; choose a report
    adm|<action>|<arg>…  admin: ok/no/fix/set a pending upload, del/delok a report, cancel
"""

from __future__ import annotations

import hashlib
import re

from reportqa.models import KnowledgeBase, Passage, Report

LIMIT = 64  # bytes of callback data Telegram accepts

MORE, OPEN, VOTE, ASK = "m", "o", "f", "q"
AGENCY_PAGE, AGENCY, REPORT_PAGE, REPORT = "a", "A", "r", "R"
ADMIN = "adm"
# admin actions: a pending upload's, a report's removal, and cancelling a confirmation
CONFIRM, DISCARD, FIX, FIELD = "ok", "no", "fix", "set"
REMOVE, REMOVE_CONFIRMED, CANCEL_ACTION = "del", "delok", "cancel"
UPLOAD_ACTIONS = (CONFIRM, DISCARD, FIX, FIELD)
REMOVE_ACTIONS = (REMOVE, REMOVE_CONFIRMED)


def pattern(*prefixes: str) -> str:
    """The CallbackQueryHandler pattern of buttons of these kinds."""
    return "^(?:" + "|".join(re.escape(p) for p in prefixes) + r")\|"


def admin_pattern(*actions: str) -> str:
    return f"^{ADMIN}\\|(?:" + "|".join(re.escape(a) for a in actions) + r")(?:\||$)"


def _pack(*parts: object) -> str:
    data = "|".join(str(p) for p in parts)
    if len(data.encode("utf-8")) > LIMIT:
        raise ValueError(f"callback data over {LIMIT} bytes: {data!r}")
    return data


def _fields(data: str, n: int) -> list[str]:
    """The n fields after the kind (missing ones empty)."""
    return [*data.split("|")[1:], *([""] * n)][:n]


def more(qid: str, index: int) -> str:
    return _pack(MORE, qid, index)


def parse_more(data: str) -> tuple[str, int]:
    qid, index = _fields(data, 2)
    return qid, int(index) if index.isdigit() else 0


def passage_key(passage_id: str) -> str:
    """A short stable key for a passage id (passage ids can be longer than 64 bytes)."""
    return hashlib.sha1(passage_id.encode("utf-8")).hexdigest()[:12]


def open_passage(passage_id: str) -> str:
    return _pack(OPEN, passage_key(passage_id))


_keys: tuple[KnowledgeBase, dict[str, tuple[Report, Passage]]] | None = None


def find_passage(kb: KnowledgeBase, key: str) -> tuple[Report, Passage] | None:
    """The report and passage of a 原文 button's key, if the knowledge base still has it (the
    key map is built once per knowledge base)."""
    global _keys
    if _keys is None or _keys[0] is not kb:
        _keys = (kb, {passage_key(p.id): (r, p) for r in kb.reports for p in r.passages})
    return _keys[1].get(key)


def vote(up: bool, qid: str) -> str:
    return _pack(VOTE, "+" if up else "-", qid)


def parse_vote(data: str) -> tuple[bool, str]:
    sign, qid = _fields(data, 2)
    return sign == "+", qid


def ask(qid: str) -> str:
    return _pack(ASK, qid)


def page(kind: str, number: int) -> str:
    """A page button of the agencies (AGENCY_PAGE) or reports (REPORT_PAGE) list."""
    return _pack(kind, number)


def parse_page(data: str) -> int:
    (number,) = _fields(data, 1)
    return int(number) if number.isdigit() else 0


def choose(kind: str, key: str) -> str:
    """Choose an agency (AGENCY) or a report (REPORT), or remove one (remove_report)."""
    return _pack(kind, key)


def arg(data: str) -> str:
    """The one field of a button that carries one (o, q, A, R)."""
    return _fields(data, 1)[0]


def upload(action: str, token: str, name: str = "") -> str:
    return _pack(ADMIN, action, token, name) if name else _pack(ADMIN, action, token)


def remove_report(key: str, confirmed: bool = False) -> str:
    return _pack(ADMIN, REMOVE_CONFIRMED if confirmed else REMOVE, key)


CANCEL = _pack(ADMIN, CANCEL_ACTION)
REMOVE_PREFIX = f"{ADMIN}|{REMOVE}"  # paged lists add |<key>


def parse_admin(data: str) -> tuple[str, list[str]]:
    """An admin button's action and its arguments (two, missing ones empty)."""
    action, *args = _fields(data, 3)
    return action, args
