"""The Bot API methods for the bot's own messages: sendMessage, editMessageText,
editMessageReplyMarkup and sendChatAction."""

from __future__ import annotations

import copy
import time
from typing import Any

from tests.botapi.calls import bad
from tests.botapi.entities import JSONDict
from tests.botapi.formatting import formatted, inline_markup
from tests.botapi.params import to_int
from tests.botapi.state import Meta, StubState

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class MessageMethods(StubState):
    """Bot API methods (called with the lock held): params in, ``result`` out."""

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        text, entities, parse_mode, raw = formatted(params)
        preview = params.get("link_preview_options")
        if not isinstance(preview, dict) and params.get("disable_web_page_preview"):
            preview = {"is_disabled": True}
        message = self._bot_message(
            chat,
            params,
            text=text,
            entities=entities,
            link_preview_options=preview if preview else None,
        )
        self._meta[(chat["id"], message["message_id"])] = Meta(parse_mode, raw_text=raw)
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSONDict) -> Any:
        message, key = self._editable(params)
        if key is not None and "text" not in message:
            raise bad("there is no text in the message to edit")
        text, entities, parse_mode, raw = formatted(params)
        changes = {
            "text": text,
            "entities": entities or None,
            "reply_markup": inline_markup(params),
        }
        return self._apply_edit(message, key, changes, Meta(parse_mode, raw_text=raw))

    def _edit_message_reply_markup(self, params: JSONDict) -> Any:
        message, key = self._editable(params)
        return self._apply_edit(message, key, {"reply_markup": inline_markup(params)}, None)

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    # ------------------------------------------------------------ helpers

    def _reply_target(self, params: JSONDict, chat_id: int) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = to_int("message_id", reply.get("message_id"))
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if reply.get("chat_id") not in (None, chat_id):
                return None  # replies to other chats are not simulated
        if message_id is None:
            return None
        replied = self._messages.get((chat_id, message_id))
        if replied is None:
            if allow_missing:
                return None
            raise bad("message to be replied not found")
        return self._reply_copy(replied)

    def _bot_message(self, chat: JSONDict, params: JSONDict, **content: Any) -> JSONDict:
        chat_id = chat["id"]
        message: JSONDict = {
            "message_id": 0,
            "from": copy.deepcopy(self.bot_user),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        replied = self._reply_target(params, chat_id)
        markup = inline_markup(params)
        message["message_id"] = self._new_message_id(chat_id)
        if replied is not None:
            message["reply_to_message"] = replied
        message.update({k: v for k, v in content.items() if v not in (None, [])})
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _editable(self, params: JSONDict) -> tuple[JSONDict, tuple[int, int] | None]:
        """The stored message an edit targets: (message, key), or (inline dict, None)."""
        inline_id = params.get("inline_message_id")
        if inline_id:
            return self._inline_messages.setdefault(str(inline_id), {}), None
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise bad("message identifier is not specified")
        key = (chat["id"], message_id)
        message = self._messages.get(key)
        if message is None:
            raise bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise bad("message can't be edited")
        return message, key

    def _apply_edit(
        self,
        message: JSONDict,
        key: tuple[int, int] | None,
        changes: JSONDict,
        meta: Meta | None,
    ) -> Any:
        current = {k: message.get(k) for k in changes}
        if current == {k: (v if v != [] else None) for k, v in changes.items()}:
            raise bad(_NOT_MODIFIED)
        for k, v in changes.items():
            if v in (None, []):
                message.pop(k, None)
            else:
                message[k] = copy.deepcopy(v)
        if key is None:
            return True
        message["edit_date"] = int(time.time())
        if meta is not None:
            self._meta[key] = meta
        return copy.deepcopy(message)
