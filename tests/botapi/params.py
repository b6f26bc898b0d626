"""A request's parameters, decoded the way the Bot API does: from the query string and an
``application/json`` or ``application/x-www-form-urlencoded`` body (what PTB sends), then
normalized -- ints for ids and offsets, bools for flags, objects for JSON-encoded fields.

``multipart/form-data`` (file uploads) is refused with a clear 400: the bot uploads nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from tests.botapi.calls import bad
from tests.botapi.entities import JSONDict

_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "cache_time",
        "message_thread_id",
        "max_connections",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
    }
)
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "results",
        "allowed_updates",
        "entities",
        "reply_parameters",
        "link_preview_options",
        "button",
    }
)


def to_int(name: str, value: Any) -> Any:
    """An int parameter as Telegram reads it ("@channel" stays a str for chat_id)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"[+-]?\d+", s):
            return int(s)
        if name == "chat_id":
            return s  # "@channelusername"
        try:
            return float(s) if name == "timeout" else int(s)
        except ValueError:
            raise bad(f"invalid {name} specified") from None
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def normalize(raw: JSONDict) -> JSONDict:
    """Typed parameters from the raw ones (strings from forms, anything from JSON)."""
    params: JSONDict = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if key == "reply_markup" else key
                raise bad(f"can't parse {what} JSON object") from None
        elif key in _INT_FIELDS:
            params[key] = to_int(key, value)
        elif key in _BOOL_FIELDS:
            params[key] = _to_bool(value)
        else:
            params[key] = value
    return params


def raw_params(query: str, content_type: str, body: bytes) -> JSONDict:
    """The parameters of a request as sent: the query string's, then the body's."""
    params: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            raise bad("can't parse JSON encoded request") from None
        if not isinstance(data, dict):
            raise bad("JSON object expected")
        params.update(data)
    elif kind == "multipart/form-data":
        raise bad("multipart/form-data (file uploads) is not simulated by the Bot API stand-in")
    else:  # application/x-www-form-urlencoded (and anything else, like Telegram)
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params
