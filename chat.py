"""The conversation, independent of Telegram: follow-ups, restriction to one report, rate
limits, the question log and feedback. The console and the Telegram handlers both use it, so
both answer alike.

What it remembers (each chat's context, the questions behind buttons, the question log and
feedback) is kept by a `reportqa.conversations.Conversations`: files and memory by default,
PostgreSQL shared by every worker with DATABASE_URL.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reportqa.conversations import (
    FEEDBACK_LOG,
    QUESTION_LOG,
    ChatState,
    Conversations,
    FileConversations,
    Usage,
)
from reportqa.followup import rewrite
from reportqa.models import Answer, Report
from reportqa.search import Engine

log = logging.getLogger(__name__)
__all__ = ["FEEDBACK_LOG", "QUESTION_LOG", "ChatService", "ChatState", "Reply", "Usage"]
MAX_RESULTS = 10  # results one question can page through with 「更多结果」
FIRST_RESULTS = 5  # results fetched with the answer (the rest only when asked for)


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
        conversations: Conversations | None = None,
    ) -> None:
        self._engine_ref = engine_ref
        self.state_dir = state_dir
        self.limiter: Limiter = limiter or RateLimiter()
        # whether this process sends a day's digest (many workers: exactly one of them does)
        self.claim_digest: Callable[[datetime.date], bool] = claim_digest or (lambda _day: True)
        self.conversations: Conversations = conversations or FileConversations(state_dir)
        self._examples: tuple[int, list[str]] | None = None

    @property
    def engine(self) -> Engine:
        return self._engine_ref()

    # ------------------------------------------------------------------ asking

    def ask(self, chat_id: int, user_id: int, text: str, top: int = 3) -> Reply:
        """Answer a message: a follow-up reuses the chat's previous question."""
        engine = self.engine  # one knowledge base for the whole question, even during a swap
        state = self.conversations.chat(chat_id)
        question, followup = text.strip(), False
        if state.previous:
            rewritten = rewrite(engine, state.previous, question)
            if rewritten:
                question, followup = rewritten, True
        reply = self.answer(question, state.scope, top, engine)
        # only the previous question: a restriction chosen meanwhile (on another worker) stays
        self.conversations.set_previous(chat_id, question)
        self._log_question(reply, state.scope, chat_id, user_id)
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
        self.conversations.remember(qid, question, scope)
        return qid

    def again(self, qid: str, top: int = MAX_RESULTS) -> Reply | None:
        """The answer to a question asked before (for the buttons of older messages)."""
        found = self.conversations.recall(qid)
        if found is None:
            return None
        return self.answer(found[0], found[1], top)

    def question(self, qid: str) -> str | None:
        found = self.conversations.recall(qid)
        return found[0] if found else None

    def allow(self, user_id: int) -> bool:
        return self.limiter.allow(user_id)

    # ------------------------------------------------------------------ browsing

    def restrict(self, chat_id: int, reports: list[Report], label: str) -> None:
        """Restrict the chat's next questions to these reports (empty: all reports again)."""
        scope = frozenset(r.report_id for r in reports) or None
        self.conversations.save_chat(chat_id, ChatState(None, scope, label if reports else ""))

    def scope_label(self, chat_id: int) -> str:
        state = self.conversations.chat(chat_id)
        return state.scope_label if state.scope else ""

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
        found = self.conversations.recall(qid)
        if found is None:
            return False
        scope = sorted(found[1]) if found[1] else None
        self.conversations.log_feedback(
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

    def _log_question(
        self, reply: Reply, scope: frozenset[str] | None, chat_id: int, user_id: int
    ) -> None:
        top = reply.answer.hits[0] if reply.answer.hits else None
        self.conversations.log_question(
            {
                "t": time.time(),
                "qid": reply.qid,
                "chat": chat_id,
                "user": user_id,
                "question": reply.question,
                "scope": sorted(scope or ()),
                "answered": reply.answer.answered,
                "passage": top.passage.id if top else None,
            },
        )
