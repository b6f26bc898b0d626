"""The conversation, independent of Telegram: follow-ups, restriction to one report, rate
limits, the question log and feedback. The console and the Telegram handlers both use it, so
both answer alike.

State that must outlive a restart (the questions behind old buttons, feedback) is appended
as JSON lines under the state folder; per-chat context (the previous question, a chosen
report) lives in memory.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reportqa.followup import rewrite
from reportqa.models import Answer, Report
from reportqa.search import Engine

log = logging.getLogger(__name__)
QUESTION_LOG = "questions.jsonl"
FEEDBACK_LOG = "feedback.jsonl"
REMEMBER = 20_000  # questions kept in memory for the buttons of old messages
MAX_RESULTS = 10  # results one question can page through with 「更多结果」
FIRST_RESULTS = 5  # results fetched with the answer (the rest only when asked for)


@dataclass
class ChatState:
    previous: str | None = None  # the last question, for follow-ups
    scope: frozenset[str] | None = None  # questions restricted to these reports (until /all)
    scope_label: str = ""


@dataclass(frozen=True)
class Reply:
    answer: Answer
    question: str  # the question answered (a follow-up is rewritten in full)
    qid: str
    followup: bool = False


class Limiter(Protocol):
    """A question budget per user: RateLimiter here, or one every worker shares
    (reportqa.db.state.PgRateLimiter)."""

    limit: int

    def allow(self, user_id: int) -> bool: ...


@dataclass
class RateLimiter:
    """At most `limit` questions per user in any `window` seconds."""

    limit: int = 20
    window: float = 60.0
    _seen: dict[int, deque[float]] = field(default_factory=dict)

    def allow(self, user_id: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._seen.setdefault(user_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


HELP_WORDS = frozenset(
    {"帮助", "帮帮我", "怎么用", "如何使用", "使用说明", "说明", "菜单", "help", "?", "？"}
)
_SMALL_TALK = re.compile(
    r"^(?:你好|您好|你们好|嗨|哈喽|哈啰|hi|hello|hey|在吗|在不在|有人吗|谢谢|谢谢你|多谢|感谢|"
    r"thanks?|thank you|再见|拜拜|bye|早上好|上午好|中午好|下午好|晚上好|早安|晚安|"
    r"你是谁|你叫什么|你是什么|你能做什么|你会什么|好的|好|ok|okay|嗯+|哦+|哈+|呵呵)"
    r"[\s!！。.,，~～?？呀啊呢吧哈]*$",
    re.IGNORECASE,
)


def classify(text: str) -> str | None:
    """'help' for a request for help, 'chitchat' for small talk, None for a question."""
    bare = text.strip()
    if bare.lower() in HELP_WORDS:
        return "help"
    if _SMALL_TALK.match(bare):
        return "chitchat"
    return None


def question_id(question: str, scope: frozenset[str] | None) -> str:
    where = ",".join(sorted(scope)) if scope else ""
    return hashlib.sha1(f"{where}\x00{question}".encode()).hexdigest()[:10]


class ChatService:
    """Answers chat messages with the current engine; `engine_ref` returns it (it may be
    swapped while the bot runs)."""

    def __init__(
        self,
        engine_ref: Callable[[], Engine],
        state_dir: Path | None,
        limiter: Limiter | None = None,
        claim_digest: Callable[[datetime.date], bool] | None = None,
    ) -> None:
        self._engine_ref = engine_ref
        self.state_dir = state_dir
        self.limiter: Limiter = limiter or RateLimiter()
        # whether this process sends a day's digest (many workers: exactly one of them does)
        self.claim_digest: Callable[[datetime.date], bool] = claim_digest or (lambda _day: True)
        self.chats: dict[int, ChatState] = {}
        self._questions: dict[str, tuple[str, frozenset[str] | None]] = {}
        self._examples: tuple[int, list[str]] | None = None
        self._lock = threading.Lock()
        self._load_questions()

    @property
    def engine(self) -> Engine:
        return self._engine_ref()

    # ------------------------------------------------------------------ asking

    def ask(self, chat_id: int, user_id: int, text: str, top: int = 3) -> Reply:
        """Answer a message: a follow-up reuses the chat's previous question."""
        engine = self.engine  # one knowledge base for the whole question, even during a swap
        state = self.chats.setdefault(chat_id, ChatState())
        question, followup = text.strip(), False
        if state.previous:
            rewritten = rewrite(engine, state.previous, question)
            if rewritten:
                question, followup = rewritten, True
        reply = self.answer(question, state.scope, top, engine)
        state.previous = question
        self._log_question(reply, chat_id, user_id)
        return Reply(reply.answer, question, reply.qid, followup)

    def answer(
        self,
        question: str,
        scope: frozenset[str] | None,
        top: int = 3,
        engine: Engine | None = None,
    ) -> Reply:
        """Answer a question as asked (no follow-up logic), within some reports if given."""
        engine = engine or self.engine
        only = None
        if scope:
            only = frozenset(r for r in scope if engine.kb.report(r) is not None) or None
        answer = engine.ask(question, top=top, report_ids=only)
        return Reply(answer, question, self.remember(question, scope))

    def remember(self, question: str, scope: frozenset[str] | None = None) -> str:
        """The id under which buttons can ask this question again."""
        qid = question_id(question, scope)
        with self._lock:
            self._questions[qid] = (question, scope)
        return qid

    def again(self, qid: str, top: int = MAX_RESULTS) -> Reply | None:
        """The answer to a question asked before (for the buttons of older messages)."""
        found = self._questions.get(qid)
        if found is None:
            return None
        return self.answer(found[0], found[1], top)

    def question(self, qid: str) -> str | None:
        found = self._questions.get(qid)
        return found[0] if found else None

    def allow(self, user_id: int) -> bool:
        return self.limiter.allow(user_id)

    # ------------------------------------------------------------------ browsing

    def restrict(self, chat_id: int, reports: list[Report], label: str) -> None:
        """Restrict the chat's next questions to these reports (empty: all reports again)."""
        state = self.chats.setdefault(chat_id, ChatState())
        state.scope = frozenset(r.report_id for r in reports) or None
        state.scope_label = label if reports else ""
        state.previous = None

    def scope_label(self, chat_id: int) -> str:
        state = self.chats.get(chat_id)
        return state.scope_label if state and state.scope else ""

    def examples(self, n: int = 3) -> list[str]:
        """Example questions drawn from the knowledge base that it does answer (cached for
        the current engine)."""
        cached = self._examples
        if cached is not None and cached[0] == id(self.engine) and len(cached[1]) >= n:
            return cached[1][:n]
        out: list[str] = []
        for report in self.engine.kb.reports:
            short = next((s for s in report.agency_short if len(s) <= 6), report.agency)
            for passage in report.passages:
                if passage.section[:1] == ("文件信息",):  # the page's metadata, not a topic
                    continue
                heading = passage.section[-1] if passage.section else ""
                topic = heading.split("。")[0].lstrip("（(一二三四五六七八九十0123456789)）.、是 ")
                if not 4 <= len(topic) <= 16:
                    continue
                question = f"{short}{topic}"
                if self.engine.ask(question).answered:
                    out.append(question)
                    break
            if len(out) >= n:
                break
        self._examples = (id(self.engine), out)
        return out

    # ------------------------------------------------------------------ logs

    def record_feedback(self, qid: str, user_id: int, vote: str) -> bool:
        """Record 👍/👎 for an answer; False if the question is no longer known."""
        found = self._questions.get(qid)
        if found is None:
            return False
        scope = sorted(found[1]) if found[1] else None
        self._append(
            FEEDBACK_LOG,
            {
                "t": time.time(),
                "qid": qid,
                "user": user_id,
                "vote": vote,
                "question": found[0],
                "scope": scope,
            },
        )
        return True

    def _log_question(self, reply: Reply, chat_id: int, user_id: int) -> None:
        top = reply.answer.hits[0] if reply.answer.hits else None
        self._append(
            QUESTION_LOG,
            {
                "t": time.time(),
                "qid": reply.qid,
                "chat": chat_id,
                "user": user_id,
                "question": reply.question,
                "scope": sorted(self._questions[reply.qid][1] or ()),
                "answered": reply.answer.answered,
                "passage": top.passage.id if top else None,
            },
        )

    def _append(self, name: str, record: dict[str, object]) -> None:
        if self.state_dir is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with self._lock, (self.state_dir / name).open("a", encoding="utf-8") as f:
                f.write(line)
        except OSError as e:  # a full disk must not stop the answers
            log.warning("could not write %s: %s", name, e)

    def _load_questions(self) -> None:
        if self.state_dir is None or not (self.state_dir / QUESTION_LOG).exists():
            return
        try:
            with (self.state_dir / QUESTION_LOG).open(encoding="utf-8", errors="replace") as f:
                lines = deque(f, maxlen=REMEMBER)
        except OSError as e:
            log.warning("could not read the question log: %s", e)
            return
        for line in lines:
            try:
                record = json.loads(line)
                scope = frozenset(record.get("scope") or ()) or None
                self._questions[str(record["qid"])] = (str(record["question"]), scope)
            except (ValueError, KeyError, TypeError):
                continue


# ---------------------------------------------------------------- reading the logs (admins)


@dataclass(frozen=True)
class Usage:
    asked: int
    answered: int

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered


def _records(path: Path, since: float = 0.0) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and float(record.get("t", 0)) >= since:
                out.append(record)
    return out


def usage(state_dir: Path | None, since: float) -> Usage:
    """Questions asked and answered since a time (from the question log)."""
    if state_dir is None:
        return Usage(0, 0)
    records = _records(state_dir / QUESTION_LOG, since)
    return Usage(len(records), sum(1 for r in records if r.get("answered")))


def unanswered(state_dir: Path | None, limit: int = 10) -> tuple[list[str], list[tuple[str, int]]]:
    """The most recent and the most frequent questions that got no answer."""
    if state_dir is None:
        return [], []
    missed = [
        str(r.get("question", ""))
        for r in _records(state_dir / QUESTION_LOG)
        if not r.get("answered")
    ]
    recent = list(dict.fromkeys(reversed(missed)))[:limit]
    counts: dict[str, int] = {}
    for q in missed:
        counts[q] = counts.get(q, 0) + 1
    frequent = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return recent, frequent


def negative_feedback(state_dir: Path | None, limit: int = 10) -> list[dict[str, object]]:
    """The latest answers people marked 👎, newest first."""
    if state_dir is None:
        return []
    votes = [r for r in _records(state_dir / FEEDBACK_LOG) if r.get("vote") == "down"]
    return list(reversed(votes))[:limit]
