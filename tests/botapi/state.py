"""What the stand-in holds -- users, chats, messages, files, updates, the calls it answered --
and the helpers every part of it uses to read and change that (with the lock held)."""

from __future__ import annotations

import copy
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tests.botapi.calls import ApiError, Call, Fault, bad
from tests.botapi.entities import JSONDict

DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)  # everything except chat_member, message_reaction and message_reaction_count

Method = Callable[[JSONDict], Any]


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str | None = None


@dataclass
class Meta:
    """What the bot sent, as sent (for the test's eyes only)."""

    parse_mode: str | None = None
    raw_text: str | None = None


class StubState:
    """The stand-in's data and its low-level helpers; :class:`BotApiStub` is built on it."""

    def __init__(self, token: str, bot_username: str, bot_first_name: str) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.webhook: JSONDict | None = None
        self.callback_answers: dict[str, JSONDict] = {}
        self.inline_answers: dict[str, JSONDict] = {}

        self._lock = threading.RLock()
        self._updates_cv = threading.Condition(self._lock)
        self._calls_cv = threading.Condition(self._lock)
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._delivered_up_to = 0  # highest update_id handed out by getUpdates
        self._poll_generation = 0
        self._polls_waiting = 0  # getUpdates requests in progress
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._users: dict[int, JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._blocked: set[int] = set()
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._meta: dict[tuple[int, int], Meta] = {}
        self._inline_messages: dict[str, JSONDict] = {}
        self._files: dict[str, StoredFile] = {}
        self._file_paths: dict[str, str] = {}
        self._file_counter = 0
        self._query_counter = 0
        self._callback_queries: dict[str, JSONDict] = {}
        self._inline_queries: dict[str, JSONDict] = {}
        self._commands: dict[str, list[JSONDict]] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._methods: dict[str, tuple[str, Method]] = {}  # lower-case name -> (name, method)
        self._stopped = False

    # ------------------------------------------------------------ calls and faults

    def _record(self, call: Call) -> None:
        with self._calls_cv:
            call = replace(call, index=len(self.calls))
            self.calls.append(call)
            self._calls_cv.notify_all()

    def _add_fault(self, method: str, fault: Fault, times: int) -> None:
        with self._lock:
            queue = self._faults.setdefault(method.lower(), deque())
            queue.extend(copy.copy(fault) for _ in range(times))

    def _take_fault(self, canonical: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(canonical.lower())
            return queue.popleft() if queue else None

    # ------------------------------------------------------------ users, chats, updates

    def _user(
        self,
        user_id: int,
        first_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSONDict:
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or "测试"}
            self._users[user_id] = user
        elif first_name is not None:
            user["first_name"] = first_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def _chat(self, chat_id: int, chat_type: str, title: str | None) -> JSONDict:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_type == "private":
                user = self._users.get(chat_id, {"first_name": "测试"})
                chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
                if "username" in user:
                    chat["username"] = user["username"]
            else:
                chat = {"id": chat_id, "type": chat_type, "title": title or "测试群"}
            self._chats[chat_id] = chat
        elif title is not None and chat["type"] != "private":
            chat["title"] = title
        return chat

    def _target_chat(self, params: JSONDict) -> JSONDict:
        """The chat a method's ``chat_id`` names (400 if unknown, 403 if it blocked the bot)."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad("chat_id is empty")
        chat: JSONDict | None
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            chat = next(
                (c for c in self._chats.values() if c.get("username", "").lower() == name), None
            )
        else:
            chat = self._chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _new_query_id(self) -> str:
        self._query_counter += 1
        return str(4_382_000_000_000_000_000 + self._query_counter)

    def _enqueue(self, kind: str, payload: JSONDict) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: payload})
        self._updates_cv.notify_all()
        return update_id

    @staticmethod
    def _reply_copy(message: JSONDict) -> JSONDict:
        replied = copy.deepcopy(message)
        replied.pop("reply_to_message", None)
        return replied

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> str:
        scope = scope or {"type": "default"}
        return json.dumps([scope, language_code or ""], sort_keys=True, ensure_ascii=False)

    # ------------------------------------------------------------ files

    def _store_file(
        self, content: bytes, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        stored = StoredFile(
            file_id=f"BQACAgUAAxkBAAIC{n:08d}ZmlsZV9pZA",
            file_unique_id=f"AgAD{n:06d}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _document_json(stored: StoredFile) -> JSONDict:
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name is not None:
            document["file_name"] = stored.file_name
        if stored.mime_type is not None:
            document["mime_type"] = stored.mime_type
        return document
