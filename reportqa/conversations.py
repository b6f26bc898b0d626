"""What the bot remembers of its conversations: each chat's context (the previous question, a
restriction to some reports), the questions behind buttons, the question log and feedback.

`FileConversations` is the default: chat context in memory, the logs as JSON lines under the
state folder (the questions behind buttons are read back from the question log at start). With
DATABASE_URL every worker shares one `reportqa.db.state.PgConversations` instead, so a
conversation goes on whichever worker gets the next message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)
QUESTION_LOG = "questions.jsonl"
FEEDBACK_LOG = "feedback.jsonl"
REMEMBER = 20_000  # questions kept in memory for the buttons of old messages

Scope = frozenset[str] | None  # the reports a question was restricted to (None: all)
Record = dict[str, object]
K = TypeVar("K")
V = TypeVar("V")


@dataclass
class ChatState:
    previous: str | None = None  # the last question, for follow-ups
    scope: frozenset[str] | None = None  # questions restricted to these reports (until /all)
    scope_label: str = ""


@dataclass(frozen=True)
class Usage:
    asked: int
    answered: int

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered


class Conversations(Protocol):
    """Where conversations are kept (see the module docstring)."""

    def chat(self, chat_id: int) -> ChatState: ...

    def save_chat(self, chat_id: int, state: ChatState) -> None: ...

    def set_previous(self, chat_id: int, question: str) -> None: ...

    def remember(self, qid: str, question: str, scope: Scope) -> None: ...

    def recall(self, qid: str) -> tuple[str, Scope] | None: ...

    def log_question(self, record: Record) -> None: ...

    def log_feedback(self, record: Record) -> None: ...

    def usage(self, since: float) -> Usage: ...

    def unanswered(self, limit: int = 10) -> tuple[list[str], list[tuple[str, int]]]: ...

    def negative_feedback(self, limit: int = 10) -> list[Record]: ...


class Recent(Generic[K, V]):
    """The newest `limit` items by key (thread-safe): the questions behind buttons, or a
    worker's last view of each chat."""

    def __init__(self, limit: int = REMEMBER) -> None:
        self._limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._items.get(key)


class FileConversations:
    """Chat context in memory, logs as JSON lines in `state_dir` (None: nothing kept)."""

    def __init__(self, state_dir: Path | None) -> None:
        self.state_dir = state_dir
        self.chats: dict[int, ChatState] = {}
        self.questions: Recent[str, tuple[str, Scope]] = Recent()
        self._lock = threading.Lock()
        self._load_questions()

    def chat(self, chat_id: int) -> ChatState:
        return self.chats.setdefault(chat_id, ChatState())

    def save_chat(self, chat_id: int, state: ChatState) -> None:
        self.chats[chat_id] = state

    def set_previous(self, chat_id: int, question: str) -> None:
        self.chat(chat_id).previous = question

    def remember(self, qid: str, question: str, scope: Scope) -> None:
        self.questions.put(qid, (question, scope))

    def recall(self, qid: str) -> tuple[str, Scope] | None:
        return self.questions.get(qid)

    def log_question(self, record: Record) -> None:
        self._append(QUESTION_LOG, record)

    def log_feedback(self, record: Record) -> None:
        self._append(FEEDBACK_LOG, record)

    def usage(self, since: float) -> Usage:
        records = self._records(QUESTION_LOG, since)
        return Usage(len(records), sum(1 for r in records if r.get("answered")))

    def unanswered(self, limit: int = 10) -> tuple[list[str], list[tuple[str, int]]]:
        records = self._records(QUESTION_LOG)
        missed = [str(r.get("question", "")) for r in records if not r.get("answered")]
        return missed_questions(missed, limit)

    def negative_feedback(self, limit: int = 10) -> list[Record]:
        votes = [r for r in self._records(FEEDBACK_LOG) if r.get("vote") == "down"]
        return list(reversed(votes))[:limit]

    # ------------------------------------------------------------------ the files

    def _append(self, name: str, record: Record) -> None:
        if self.state_dir is None:
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with self._lock, (self.state_dir / name).open("a", encoding="utf-8") as f:
                f.write(line)
        except OSError as e:  # a full disk must not stop the answers
            log.warning("could not write %s: %s", name, e)

    def _records(self, name: str, since: float = 0.0) -> list[Record]:
        if self.state_dir is None or not (self.state_dir / name).exists():
            return []
        out = []
        with (self.state_dir / name).open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and float(record.get("t", 0)) >= since:
                    out.append(record)
        return out

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
                self.questions.put(str(record["qid"]), (str(record["question"]), scope))
            except (ValueError, KeyError, TypeError):
                continue


def missed_questions(missed: list[str], limit: int) -> tuple[list[str], list[tuple[str, int]]]:
    """The most recent and the most frequent of the unanswered questions (oldest first)."""
    recent = list(dict.fromkeys(reversed(missed)))[:limit]
    counts: dict[str, int] = {}
    for q in missed:
        counts[q] = counts.get(q, 0) + 1
    frequent = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return recent, frequent
