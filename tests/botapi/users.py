"""Playing the users: what people do in Telegram (write, send a file, press a button, type an
inline query, block the bot) becomes the updates the bot fetches."""

from __future__ import annotations

import copy
import mimetypes
import time

from tests.botapi.entities import JSONDict, user_entities
from tests.botapi.state import StubState


class UserSide(StubState):
    """The test's side of the conversation (public, thread-safe)."""

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "测试",
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> JSONDict:
        """Register a user and their private chat with the bot (as if they had pressed Start).

        Only chats the stub knows accept messages; pushing a message registers its chat too.
        """
        with self._lock:
            user = self._user(user_id, first_name, username, language_code)
            self._chat(user_id, "private", None)
            return copy.deepcopy(user)

    def send_message(
        self,
        text: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str = "测试",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> int:
        """A user writes `text`; enqueue the ``message`` update and return its message_id.

        ``chat_id`` defaults to the user's private chat; for ``chat_type`` "group" /
        "supergroup" without a chat_id the group is -100 / -1001000000001. ``entities`` get the
        ``bot_command`` and ``mention`` entries real Telegram adds (``/ask@ReportQABot 问题``).
        ``reply_to_message_id`` must name a message in that chat (e.g. one the bot sent).
        """
        with self._lock:
            message = self._user_message(
                user_id,
                chat_id,
                chat_type,
                chat_title,
                first_name,
                username,
                language_code,
                reply_to_message_id,
            )
            message["text"] = text
            entities = user_entities(text)
            if entities:
                message["entities"] = entities
            return self._store_user_message(message)

    def send_document(
        self,
        file_name: str,
        content: bytes,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
        first_name: str = "测试",
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends a file; the bot can fetch it via getFile + ``/file/bot<token>/<path>``.

        Returns the message_id. The ``document`` carries file_id, file_unique_id, file_name,
        mime_type (guessed from the name when not given) and file_size.
        """
        with self._lock:
            message = self._user_message(
                user_id,
                chat_id,
                chat_type,
                None,
                first_name,
                username,
                "zh-hans",
                reply_to_message_id,
            )
            stored = self._store_file(
                content,
                file_name,
                mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream",
            )
            message["document"] = self._document_json(stored)
            if caption is not None:
                message["caption"] = caption
                entities = user_entities(caption)
                if entities:
                    message["caption_entities"] = entities
            return self._store_user_message(message)

    def press_button(
        self, message_id: int, data: str, *, user_id: int = 1001, chat_id: int | None = None
    ) -> str:
        """A user presses the inline button with callback_data `data` on a message the bot sent.

        Enqueues a ``callback_query`` (carrying the bot's message with its current
        reply_markup) and returns the query id. Raises ValueError when the message is not the
        bot's, is gone, or has no such button -- a real user could not press it either.
        """
        with self._lock:
            chat_id = user_id if chat_id is None else chat_id
            message = self._messages.get((chat_id, message_id))
            if message is None or message.get("from", {}).get("id") != self.bot_id:
                raise ValueError(f"no message {message_id} from the bot in chat {chat_id}")
            buttons = [
                button.get("callback_data")
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                for button in row
            ]
            if data not in buttons:
                raise ValueError(
                    f"message {message_id} has no button with callback_data {data!r}: {buttons}"
                )
            user = self._user(user_id, None, None, None)
            query_id = self._new_query_id()
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": str(-(7_000_000_000_000_000_000 + abs(chat_id))),
                "data": data,
            }
            self._callback_queries[query_id] = query
            self._enqueue("callback_query", query)
            return query_id

    def inline_query(
        self, query: str, *, user_id: int = 1001, offset: str = "", chat_type: str = "sender"
    ) -> str:
        """A user types ``@ReportQABot <query>``; enqueue an ``inline_query``, return its id."""
        with self._lock:
            user = self._user(user_id, None, None, None)
            query_id = self._new_query_id()
            payload = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "query": query,
                "offset": offset,
                "chat_type": chat_type,
            }
            self._inline_queries[query_id] = payload
            self._enqueue("inline_query", payload)
            return query_id

    def push_update(self, kind: str, payload: JSONDict) -> int:
        """Enqueue any update (``{"update_id": n, kind: payload}``); return its update_id."""
        with self._lock:
            return self._enqueue(kind, copy.deepcopy(payload))

    def set_blocked(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks the bot: sends to their chat get 403 "bot was blocked by the user"."""
        with self._lock:
            if blocked:
                self._blocked.add(user_id)
            else:
                self._blocked.discard(user_id)

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        chat_type: str | None,
        chat_title: str | None,
        first_name: str,
        username: str | None,
        language_code: str | None,
        reply_to_message_id: int | None,
    ) -> JSONDict:
        user = self._user(user_id, first_name, username, language_code)
        if chat_id is None:
            chat_type = chat_type or "private"
            chat_id = {"private": user_id, "group": -100}.get(chat_type, -1001000000001)
        elif chat_type is None:
            known = self._chats.get(chat_id)
            if known is not None:
                chat_type = known["type"]
            elif chat_id > 0:
                chat_type = "private"
            else:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        if chat_type == "private" and chat_id != user_id:
            raise ValueError("a private chat's id is the user's id")
        if chat_type == "channel":
            raise ValueError("channel posts are not simulated; use push_update")
        chat = self._chat(chat_id, chat_type, chat_title)
        if chat_type == "private":
            chat["first_name"] = user["first_name"]
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id),
            "from": copy.deepcopy(user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if reply_to_message_id is not None:
            replied = self._messages.get((chat_id, reply_to_message_id))
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
            message["reply_to_message"] = self._reply_copy(replied)
        return message

    def _store_user_message(self, message: JSONDict) -> int:
        key = (message["chat"]["id"], message["message_id"])
        self._messages[key] = message
        self._enqueue("message", copy.deepcopy(message))
        return message["message_id"]
