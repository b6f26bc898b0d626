"""A Telegram Bot API stand-in for end-to-end tests: a real HTTP server on 127.0.0.1.

The bot under test talks to it exactly as it would talk to ``api.telegram.org`` (point
``base_url`` at ``{root}/bot`` and ``base_file_url`` at ``{root}/file/bot``); the test plays the
users (:meth:`BotApiStub.send_message`, :meth:`~BotApiStub.press_button`, ...) and watches what
the bot does (:attr:`BotApiStub.calls`, :meth:`~BotApiStub.wait_for`,
:meth:`~BotApiStub.messages_to`).

Standard library only. Responses follow the real Bot API: ``{"ok": true, "result": ...}``,
dates in whole seconds, message ids counted per chat, and the errors Telegram gives for the
mistakes bots really make -- HTML that Telegram would reject (a port of tdlib's ``parse_html``,
same messages and byte offsets), texts over 4096 characters, "message is not modified", unknown
chats, callback data over 64 bytes. Texts sent with a ``parse_mode`` are stored the way Telegram
stores them: plain ``text`` plus ``entities``; the text as the bot sent it is kept alongside
(``raw_text`` / ``parse_mode`` in :meth:`BotApiStub.messages_to`).

Things that are deliberately *not* simulated: webhook delivery (``setWebhook`` is only
recorded, and -- like Telegram -- makes ``getUpdates`` fail with 409), group privacy mode (every
pushed update is delivered), media other than documents, automatic url/hashtag entities in
the bot's own messages, rate limits (inject them with :meth:`BotApiStub.fail_next`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.utils
import json
import mimetypes
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "ApiError",
    "BotApiStub",
    "Call",
    "EntityParseError",
    "UploadedFile",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "user_entities",
    "utf16_len",
]

JSONDict = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
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
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# ================================================================ text and entities


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units -- the unit of Telegram's entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class EntityParseError(ValueError):
    """Telegram's "can't parse entities" -- the message is tdlib's, word for word."""


_SPACES = frozenset(b" \t\r\n\x00\x0b\x0c")  # td::is_space (the terminating NUL counts)


def _at(b: bytes, i: int) -> int:
    """b[i], or 0 past the end (tdlib reads a NUL-terminated C string)."""
    return b[i] if i < len(b) else 0


def _is_alpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex(c: int) -> bool:
    return _is_digit(c) or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _u16_step(c: int) -> int:
    """UTF-16 units contributed by UTF-8 byte `c` (0 for continuation bytes)."""
    if c & 0xC0 == 0x80:
        return 0
    return 2 if c >= 0xF0 else 1


def _decode_html_entity(b: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: (code point or 0, position after the reference)."""
    end = pos + 1
    res = 0
    if _at(b, pos + 1) == 0x23:  # '#'
        end += 1
        if _at(b, pos + 2) == 0x78:  # 'x'
            end += 1
            while _is_hex(_at(b, end)):
                res = res * 16 + int(chr(b[end]), 16)
                end += 1
        else:
            while _is_digit(_at(b, end)):
                res = res * 10 + b[end] - 0x30
                end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(_at(b, end)):
            end += 1
        res = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(b[pos + 1 : end], 0)
        if not res:
            return 0, pos
    if _at(b, end) == 0x3B:  # ';'
        end += 1
    return res, end


def _checked_link(url: str) -> str:
    """A simplified LinkManager::get_checked_link: the normalized URL, or '' if unusable."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return ""
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if m:
        scheme = m.group(1).lower()
        if scheme in ("http", "https"):
            rest = url[m.end() :]
            if not rest.startswith("//") or len(rest) <= 2:
                return ""
            return url + "/" if re.fullmatch(r"//[^/?#]+", rest) else url
        return url if scheme in ("tg", "ton", "tonsite", "ftp", "mailto") else ""
    if "." not in url.split("/", 1)[0]:
        return ""
    url = "http://" + url
    return url + "/" if re.fullmatch(r"http://[^/?#]+", url) else url


def _link_user_id(url: str) -> int | None:
    m = re.fullmatch(r"tg:(?://)?user/?\?([^#]*)(?:#.*)?", url.strip().lower())
    if not m:
        return None
    for part in m.group(1).split("&"):
        key, _, value = part.partition("=")
        if key == "id":
            return int(value) if re.fullmatch(r"\d{1,10}", value) else None
    return None


def _finish_entities(out: bytearray, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


def _link_entity(url: str, offset: int, length: int) -> JSONDict | None:
    user_id = _link_user_id(url)
    if user_id is not None:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": {"id": user_id, "is_bot": False, "first_name": str(user_id)},
        }
    checked = _checked_link(url)
    if not checked:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


_HTML_TAGS = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    ]
)
_HTML_SIMPLE = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
}


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML parse mode (a port of tdlib's ``parse_html``).

    Returns the plain text and the Bot API entities (UTF-16 offsets). Raises
    :class:`EntityParseError` with tdlib's message (byte offsets into the UTF-8 text) for
    anything Telegram rejects: unsupported tags (``<br>``, ``<p>``, a bare ``<`` ...), unclosed or
    mismatched tags, malformed attributes.
    """
    try:
        b = text.encode("utf-8")
    except UnicodeEncodeError:
        raise EntityParseError("Strings must be encoded in UTF-8") from None
    n = len(b)
    out = bytearray()
    entities: list[JSONDict] = []
    nested: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, out position
    u16 = 0
    i = 0
    while i < n:
        c = b[i]
        if c == 0x26:  # '&'
            code, end = _decode_html_entity(b, i)
            if code:
                u16 += 2 if code > 0xFFFF else 1
                out += chr(code).encode("utf-8", "surrogatepass")
                i = end
                continue
        if c != 0x3C:  # not '<'
            u16 += _u16_step(c)
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if _at(b, i) != 0x2F:  # start tag
            while _at(b, i) not in _SPACES and _at(b, i) != 0x3E:
                i += 1
            if _at(b, i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = b[begin + 1 : i].lower().decode("utf-8", "replace")
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while _at(b, i) != 0x3E:
                while _at(b, i) != 0 and _at(b, i) in _SPACES:
                    i += 1
                if _at(b, i) == 0x3E:
                    break
                name_begin = i
                while _at(b, i) not in _SPACES and _at(b, i) not in b"=>/\"'":
                    i += 1
                attr_name = b[name_begin:i]
                if not attr_name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while _at(b, i) != 0 and _at(b, i) in _SPACES:
                    i += 1
                if _at(b, i) != 0x3D:  # no '='
                    if _at(b, i) == 0:
                        raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and attr_name == b"expandable":
                        argument = "1"
                    continue
                i += 1
                while _at(b, i) != 0 and _at(b, i) in _SPACES:
                    i += 1
                if _at(b, i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                value = bytearray()
                if _at(b, i) not in (0x27, 0x22):  # a name token
                    token_begin = i
                    while _is_alpha(_at(b, i)) or _is_digit(_at(b, i)) or _at(b, i) in (0x2E, 0x2D):
                        i += 1
                    value += b[token_begin:i].lower()
                    if _at(b, i) not in _SPACES and _at(b, i) != 0x3E:
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:  # a string literal
                    quote = b[i]
                    i += 1
                    while _at(b, i) != quote and _at(b, i) != 0:
                        if b[i] == 0x26:
                            code, end = _decode_html_entity(b, i)
                            if code:
                                value += chr(code).encode("utf-8", "surrogatepass")
                                i = end
                                continue
                        value.append(b[i])
                        i += 1
                    if _at(b, i) == quote:
                        i += 1
                if _at(b, i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                val = value.decode("utf-8", "replace")
                if tag == "a" and attr_name == b"href":
                    argument = val
                elif tag == "code" and attr_name == b"class" and val.startswith("language-"):
                    argument = val[9:]
                elif tag == "span" and attr_name == b"class" and val.startswith("tg-"):
                    argument = val[3:]
                elif tag == "tg-emoji" and attr_name == b"emoji-id":
                    argument = val
                elif tag == "blockquote" and attr_name == b"expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            nested.append((tag, argument, u16, len(out)))
        else:  # end tag
            if not nested:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
            while _at(b, i) not in _SPACES and _at(b, i) != 0x3E:
                i += 1
            end_tag = b[begin + 2 : i].lower().decode("utf-8", "replace")
            while _at(b, i) != 0 and _at(b, i) in _SPACES:
                i += 1
            if _at(b, i) != 0x3E:
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
            tag, argument, offset, out_pos = nested.pop()
            if end_tag and end_tag != tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                    f'found "</{end_tag}>"'
                )
            length = u16 - offset
            if length > 0:
                entity: JSONDict | None = {"offset": offset, "length": length}
                last = entities[-1] if entities else None
                same_span = last is not None and (last["offset"], last["length"]) == (
                    offset,
                    length,
                )
                if tag in _HTML_SIMPLE or tag == "span":
                    entity = {"type": _HTML_SIMPLE.get(tag, "spoiler"), **entity}
                elif tag == "tg-emoji":
                    if not re.fullmatch(r"[0-9]{1,19}", argument) or int(argument) == 0:
                        raise EntityParseError("Invalid custom emoji identifier specified")
                    entity = {"type": "custom_emoji", **entity, "custom_emoji_id": argument}
                elif tag == "a":
                    url = argument or out[out_pos:].decode("utf-8", "replace")
                    entity = _link_entity(url, offset, length)
                elif tag == "pre":
                    if (
                        same_span
                        and last is not None
                        and last["type"] == "code"
                        and last.get("_language")
                    ):
                        last["type"] = "pre"
                        last["language"] = last.pop("_language")
                        entity = None
                    else:
                        entity = {"type": "pre", **entity}
                elif tag == "code":
                    if same_span and last is not None and last["type"] == "pre" and argument:
                        last["language"] = argument
                        entity = None
                    else:
                        entity = {"type": "code", **entity}
                        if argument:
                            entity["_language"] = argument
                else:  # blockquote
                    kind = "expandable_blockquote" if argument else "blockquote"
                    entity = {"type": kind, **entity}
                if entity is not None:
                    entities.append(entity)
        i += 1  # past '>'
    if nested:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        entity.pop("_language", None)
    return _finish_entities(out, entities)


def parse_markdown(text: str) -> tuple[str, list[JSONDict]]:
    """Telegram's legacy ``Markdown`` parse mode (a port of tdlib's ``parse_markdown``)."""
    b = text.encode("utf-8")
    n = len(b)
    out = bytearray()
    entities: list[JSONDict] = []
    u16 = 0
    i = 0
    while i < n:
        c = b[i]
        if c == 0x5C and _at(b, i + 1) in b"_*`[":
            i += 1
            out.append(b[i])
            u16 += 1
            i += 1
            continue
        if c not in b"_*`[":
            u16 += _u16_step(c)
            out.append(c)
            i += 1
            continue
        begin = i
        end_char = 0x5D if c == 0x5B else c
        is_pre = False
        i += 1
        language = ""
        if c == 0x60 and _at(b, i) == 0x60 and _at(b, i + 1) == 0x60:
            i += 2
            is_pre = True
            lang_end = i
            while _at(b, lang_end) not in _SPACES and _at(b, lang_end) != 0x60:
                lang_end += 1
            if i != lang_end and lang_end < n and b[lang_end] != 0x60:
                language = b[i:lang_end].decode("utf-8", "replace")
                i = lang_end
            if _at(b, i) in (0x0A, 0x0D):
                if _at(b, i + 1) in (0x0A, 0x0D) and b[i] != b[i + 1]:
                    i += 2
                else:
                    i += 1
        offset = u16
        while i < n and (
            b[i] != end_char or (is_pre and not (_at(b, i + 1) == 0x60 and _at(b, i + 2) == 0x60))
        ):
            u16 += _u16_step(b[i])
            out.append(b[i])
            i += 1
        if i == n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if u16 != offset:
            length = u16 - offset
            if c == 0x5F:
                entities.append({"type": "italic", "offset": offset, "length": length})
            elif c == 0x2A:
                entities.append({"type": "bold", "offset": offset, "length": length})
            elif c == 0x5B:
                if _at(b, i + 1) != 0x28:
                    url = b[begin + 1 : i].decode("utf-8", "replace")
                else:
                    i += 2
                    url_begin = i
                    while i < n and b[i] != 0x29:
                        i += 1
                    url = b[url_begin:i].decode("utf-8", "replace")
                entity = _link_entity(url, offset, length)
                if entity:
                    entities.append(entity)
            elif is_pre:
                entity = {"type": "pre", "offset": offset, "length": length}
                if language:
                    entity["language"] = language
                entities.append(entity)
            else:
                entities.append({"type": "code", "offset": offset, "length": length})
        if is_pre:
            i += 2
        i += 1
    return _finish_entities(out, entities)


_MD2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
    "expandable_blockquote": "ExpandableBlockQuote",
}


def parse_markdown_v2(text: str) -> tuple[str, list[JSONDict]]:
    """Telegram's ``MarkdownV2`` parse mode (a port of tdlib's ``parse_markdown_v2``).

    Rejects, like Telegram, any unescaped reserved character (``_*[]()~`>#+-=|{}.!``) outside
    an entity: "Character '.' is reserved and must be escaped with the preceding '\\'".
    """
    b = text.encode("utf-8")
    n = len(b)
    out = bytearray()
    entities: list[JSONDict] = []
    # each: [type, argument, utf16 offset, byte offset in text, position in out]
    nested: list[list[Any]] = []
    u16 = 0
    have_blockquote = False
    can_start_blockquote = True

    def reserved(ch: int) -> EntityParseError:
        return EntityParseError(
            f"Character '{chr(ch)}' is reserved and must be escaped with the preceding '\\'"
        )

    def no_end(info: list[Any]) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of {_MD2_TYPE_NAMES[info[0]]} entity at byte offset {info[3]}"
        )

    def read_url(i: int) -> tuple[str, int, int]:
        url_begin = i
        url = bytearray()
        while i < n and b[i] != 0x29:
            if b[i] == 0x5C and 0 < _at(b, i + 1) <= 126:
                url.append(b[i + 1])
                i += 2
                continue
            url.append(b[i])
            i += 1
        return url.decode("utf-8", "replace"), i, url_begin

    i = 0
    while i < n:
        c = b[i]
        if c == 0x5C and 0 < _at(b, i + 1) <= 126:
            i += 1
            u16 += 1
            out.append(b[i])
            if b[i] != 0x0D:
                can_start_blockquote = b[i] == 0x0A
            i += 1
            continue
        chars = b"_*[]()~`>#+-=|{}.!\n"
        if nested and nested[-1][0] in ("code", "pre", "pre_code"):
            chars = b"`"
        if c not in chars:
            step = _u16_step(c)
            if step:
                u16 += step
                if c != 0x0D:
                    can_start_blockquote = False
            out.append(c)
            i += 1
            continue

        nxt, nxt2 = _at(b, i + 1), _at(b, i + 2)
        is_end = False
        if nested:
            top = nested[-1][0]
            if have_blockquote and c == 0x0A and (i + 1 == n or nxt != 0x3E):
                is_end = True
            elif top == "bold":
                is_end = c == 0x2A
            elif top == "italic":
                is_end = c == 0x5F and nxt != 0x5F
            elif top == "code":
                is_end = c == 0x60
            elif top in ("pre", "pre_code"):
                is_end = c == 0x60 and nxt == 0x60 and nxt2 == 0x60
            elif top in ("text_link", "custom_emoji"):
                is_end = c == 0x5D
            elif top == "underline":
                is_end = c == 0x5F and nxt == 0x5F
            elif top == "strikethrough":
                is_end = c == 0x7E
            elif top == "spoiler":
                is_end = c == 0x7C and nxt == 0x7C
        if not is_end:
            kind: str | None
            argument = ""
            byte_offset = i
            if c == 0x5F:
                if nxt == 0x5F:
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == 0x2A:
                kind = "bold"
            elif c == 0x7E:
                kind = "strikethrough"
            elif c == 0x7C:
                if nxt != 0x7C:
                    raise reserved(c)
                i += 1
                kind = "spoiler"
            elif c == 0x5B:
                kind = "text_link"
            elif c == 0x60:
                if nxt == 0x60 and nxt2 == 0x60:
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while _at(b, lang_end) not in _SPACES and _at(b, lang_end) != 0x60:
                        lang_end += 1
                    if i != lang_end and lang_end < n and b[lang_end] != 0x60:
                        kind = "pre_code"
                        argument = b[i:lang_end].decode("utf-8", "replace")
                        i = lang_end
                    if _at(b, i) in (0x0A, 0x0D):
                        if _at(b, i + 1) in (0x0A, 0x0D) and b[i] != b[i + 1]:
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == 0x21:
                if nxt != 0x5B:
                    raise reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == 0x0A:
                u16 += 1
                out.append(0x0A)
                can_start_blockquote = True
                kind = None
            elif c == 0x3E:
                if not can_start_blockquote:
                    raise reserved(c)
                if have_blockquote:
                    kind = None
                else:
                    kind = "blockquote"
                    have_blockquote = True
            else:
                raise reserved(c)
            if kind is not None:
                nested.append([kind, argument, u16, byte_offset, len(out)])
        else:
            kind = nested[-1][0]
            if c == 0x0A and kind != "blockquote":
                top_offset = nested[-1][3]
                if kind != "spoiler" or not (
                    top_offset == i - 2 or (top_offset == i - 3 and out and out[-1] == 0x0D)
                ):
                    raise no_end(nested[-1])
                nested.pop()
                kind = nested[-1][0]
                if kind != "blockquote":
                    raise no_end(nested[-1])
                kind = "expandable_blockquote"
            argument = nested[-1][1]
            entity_offset = nested[-1][2]
            skip = u16 == entity_offset
            extra: JSONDict = {}
            if kind in ("underline", "spoiler"):
                i += 1
            elif kind in ("pre", "pre_code"):
                i += 2
            elif kind == "text_link":
                if _at(b, i + 1) != 0x28:
                    url = out[nested[-1][4] :].decode("utf-8", "replace")
                else:
                    url, i, url_begin = read_url(i + 2)
                    if _at(b, i) != 0x29:
                        raise EntityParseError(
                            f"Can't find end of a URL at byte offset {url_begin}"
                        )
                link = _link_entity(url, 0, 0)
                if link is None:
                    skip = True
                else:
                    extra = {k: v for k, v in link.items() if k not in ("offset", "length")}
            elif kind == "custom_emoji":
                if _at(b, i + 1) != 0x28:
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                url, i, url_begin = read_url(i + 2)
                if _at(b, i) != 0x29:
                    raise EntityParseError(
                        f"Can't find end of a custom emoji URL at byte offset {url_begin}"
                    )
                m = re.fullmatch(r"tg://emoji\?id=([0-9]{1,19})", url)
                if not m or int(m.group(1)) == 0:
                    raise EntityParseError("Invalid custom emoji identifier specified")
                extra = {"custom_emoji_id": m.group(1)}
            elif kind in ("blockquote", "expandable_blockquote"):
                have_blockquote = False
                out.append(b[i])
                can_start_blockquote = True
                u16 += 1
                skip = False
            if not skip:
                entity = {"type": kind, "offset": entity_offset, "length": u16 - entity_offset}
                if kind == "pre_code":
                    entity["type"] = "pre"
                    entity["language"] = argument
                entity.update(extra)  # text_link / text_mention carry their own type
                entities.append(entity)
            nested.pop()
        i += 1
    if have_blockquote:
        kind = "blockquote"
        if nested and nested[-1][0] == "spoiler" and nested[-1][3] == n - 2:
            nested.pop()
            kind = "expandable_blockquote"
        if nested and nested[-1][0] == "blockquote":
            length = u16 - nested[-1][2]
            if length:
                entities.append({"type": kind, "offset": nested[-1][2], "length": length})
            nested.pop()
    if nested:
        raise no_end(nested[-1])
    return _finish_entities(out, entities)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def user_entities(text: str) -> list[JSONDict]:
    """The entities Telegram detects in what a user types: ``bot_command`` and ``mention``.

    Follows tdlib's matchers: a command is ``/`` plus 1-64 of ``[A-Za-z0-9_]`` (optionally
    ``@botname``) not glued to a word character, so ``/ask 问题`` is a command but ``/ask问题``
    is not; a mention is ``@`` plus 2-32 of ``[A-Za-z0-9_]``.
    """
    found: list[tuple[int, int, str]] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch != "/":
            continue
        if i > 0 and (_is_word_char(text[i - 1]) or text[i - 1] in "/<>"):
            continue
        j = i + 1
        while j < n and _is_ascii_word(text[j]):
            j += 1
        if not 1 <= j - i - 1 <= 64:
            continue
        if j < n and text[j] == "@":
            k = j + 1
            while k < n and _is_ascii_word(text[k]):
                k += 1
            if not 3 <= k - j - 1 <= 32:
                continue
            j = k
        if j < n and (_is_word_char(text[j]) or text[j] in "/<>"):
            continue
        found.append((i, j, "bot_command"))
    for i, ch in enumerate(text):
        if ch != "@" or (i > 0 and _is_word_char(text[i - 1])):
            continue
        j = i + 1
        while j < n and _is_ascii_word(text[j]):
            j += 1
        if not 2 <= j - i - 1 <= 32 or (j < n and _is_word_char(text[j])):
            continue
        if any(s <= i < e for s, e, _ in found):
            continue
        found.append((i, j, "mention"))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:s]), "length": utf16_len(text[s:e])}
        for s, e, kind in found
    ]


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading/trailing whitespace; entities are shifted and clipped."""
    ws = " \t\r\n\x0b\x0c"
    stripped = text.lstrip(ws)
    shift = utf16_len(text[: len(text) - len(stripped)])
    stripped = stripped.rstrip(ws)
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


# ================================================================ requests and records


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    field_name: str
    file_name: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Call:
    """One HTTP request the bot made.

    ``method`` is the canonical Bot API name (``sendMessage``), or the name as requested when it
    is unknown, or ``"file"`` for a download from ``/file/bot<token>/<path>``. ``params`` are the
    decoded parameters: ints for ids/offsets, objects for JSON-encoded fields (``reply_markup``,
    ``commands``, ...), :class:`UploadedFile` for uploads. ``time`` is ``time.monotonic()`` when
    the request arrived; the call is recorded once it has been answered (``getUpdates`` only
    when its long poll returns). ``status`` is the HTTP status sent (0 for a dropped
    connection), ``result`` the ``result`` sent back, ``description`` the error description.
    """

    method: str
    params: JSONDict
    time: float
    index: int = 0
    status: int = 200
    result: Any = None
    description: str | None = None
    http_method: str = "POST"
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


class ApiError(Exception):
    """An error answer: HTTP `status` with Telegram's `description` (and `parameters`)."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


@dataclass
class _Fault:
    kind: str  # "error" | "drop" | "delay"
    status: int = 500
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str | None = None


@dataclass
class _Meta:
    """What the bot sent, as sent (for the test's eyes only)."""

    parse_mode: str | None = None
    raw_text: str | None = None
    raw_caption: str | None = None


_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "cache_time",
        "user_id",
        "message_thread_id",
        "max_connections",
        "until_date",
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
        "disable_content_type_detection",
        "revoke_messages",
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
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "button",
        "message_ids",
        "media",
        "menu_button",
        "rights",
    }
)


def _to_int(name: str, value: Any) -> Any:
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
            raise _bad(f"invalid {name} specified") from None
    return value


def _to_bool(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _normalize(raw: JSONDict) -> JSONDict:
    params: JSONDict = {}
    for key, value in raw.items():
        if isinstance(value, UploadedFile):
            params[key] = value
        elif key in _JSON_FIELDS and isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if key == "reply_markup" else key
                raise _bad(f"can't parse {what} JSON object") from None
        elif key in _INT_FIELDS:
            params[key] = _to_int(key, value)
        elif key in _BOOL_FIELDS:
            params[key] = _to_bool(value)
        else:
            params[key] = value
    return params


_PARAM_RE = re.compile(r';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _disposition(header: str) -> dict[str, str]:
    """Parameters of a Content-Disposition header (quoted, token and RFC 2231 forms)."""
    params: dict[str, str] = {}
    for key, raw in _PARAM_RE.findall(";" + header.split(";", 1)[-1]):
        value = raw.strip()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            value = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)
        key = key.lower()
        if key.endswith("*"):
            charset, _, rest = value.partition("'")
            _, _, encoded = rest.partition("'")
            params[key[:-1]] = unquote(encoded, encoding=charset or "utf-8")
        else:
            params.setdefault(key, value)
    return params


def parse_multipart(body: bytes, boundary: str) -> JSONDict:
    """Fields of a multipart/form-data body: str values, :class:`UploadedFile` for files."""
    delimiter = b"--" + boundary.encode("latin-1")
    fields: JSONDict = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        chunk = chunk.removesuffix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition:
            fields[name] = UploadedFile(
                name,
                disposition["filename"],
                content,
                headers.get("content-type", "application/octet-stream"),
            )
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields


# ================================================================ the HTTP server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, stub: BotApiStub, port: int = 0) -> None:
        self.stub = stub
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Without this every response stalls ~40 ms (Nagle + delayed ACK on keep-alive).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BotApiStub/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.stub._serve(self)

    def do_POST(self) -> None:
        self.server.stub._serve(self)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            body += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
) -> None:
    """One write for head + body (plus TCP_NODELAY): no Nagle stalls on keep-alive."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    keep_alive = not handler.close_connection
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"Server: {handler.server_version}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    )
    try:
        handler.wfile.write(head.encode("latin-1") + body)
    except OSError:  # the client went away (e.g. a cancelled long poll)
        handler.close_connection = True


def _matches(predicate: Callable[[JSONDict], bool], params: JSONDict) -> bool:
    """predicate(params); a KeyError/TypeError/IndexError (a param it expects is absent)
    counts as no match."""
    try:
        return bool(predicate(params))
    except (KeyError, TypeError, IndexError):
        return False


# ================================================================ the stub


class BotApiStub:
    """A Bot API server on 127.0.0.1 that the bot under test can poll and call.

    Use as a context manager (or :meth:`start` / :meth:`stop`)::

        with BotApiStub() as stub:
            bot = Bot(stub.token, base_url=stub.base_url, base_file_url=stub.base_file_url)
            mid = stub.send_message("/start")                  # a user writes
            call = stub.wait_for("sendMessage", lambda p: p["chat_id"] == 1001)
            assert "你好" in stub.messages_to(1001)[-1]["text"]

    Every public method is thread-safe. The blocking waits (:meth:`wait_for`,
    :meth:`wait_polling`, :meth:`wait_delivered`) must not run on the event loop the bot runs
    on -- use :meth:`wait_for_async` / ``asyncio.to_thread`` there.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "ReportQABot",
        *,
        bot_first_name: str = "政府报告问答",
    ) -> None:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError("token must look like 123456:ABC-def")
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
        self._members: dict[tuple[int, int], str] = {}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._meta: dict[tuple[int, int], _Meta] = {}
        self._inline_messages: dict[str, JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, str] = {}
        self._file_counter = 0
        self._query_counter = 0
        self._callback_queries: dict[str, JSONDict] = {}
        self._inline_queries: dict[str, JSONDict] = {}
        self._commands: dict[str, list[JSONDict]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._methods: dict[str, tuple[str, Callable[[JSONDict], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "answerInlineQuery": self._answer_inline_query,
                "sendChatAction": self._send_chat_action,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._true,
                "setMyShortDescription": self._true,
                "setMyName": self._true,
                "setChatMenuButton": self._true,
                "getFile": self._get_file,
                "sendDocument": self._send_document,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
            }.items()
        }

    # ------------------------------------------------------------ lifecycle

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("BotApiStub is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What to give PTB's ``base_url`` (it appends the token): ``{root}/bot``."""
        return self.root + "/bot"

    @property
    def base_file_url(self) -> str:
        """What to give PTB's ``base_file_url``: ``{root}/file/bot``."""
        return self.root + "/file/bot"

    def api_url(self, method: str) -> str:
        """``{root}/bot<token>/<method>`` for calling the stub by hand."""
        return f"{self.root}/bot{self.token}/{method}"

    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 on `port` (0: a free one), serve in a daemon thread; return the
        root URL."""
        if self._server is not None:
            return self.root
        self._stopped = False
        self._server = _Server(self, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="BotApiStub",
            daemon=True,
        )
        self._thread.start()
        return self.root

    def stop(self) -> None:
        """Stop serving: pending long polls return, open connections are closed."""
        server, self._server = self._server, None
        if server is None:
            return
        with self._lock:
            self._stopped = True
            self._updates_cv.notify_all()
            self._calls_cv.notify_all()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> BotApiStub:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ playing the users

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

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember reports: creator, administrator, member, left or kicked."""
        if status not in ("creator", "administrator", "member", "left", "kicked"):
            raise ValueError(f"unsupported status {status!r}")
        with self._lock:
            self._members[(chat_id, user_id)] = status

    # ------------------------------------------------------------ observing the bot

    def wait_for(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        after: int = 0,
        *,
        ok: bool | None = True,
    ) -> Call:
        """Block until a call to `method` (index >= `after`) whose params satisfy `predicate`.

        By default only calls that succeeded count (``ok=True``): a sendMessage Telegram would
        have rejected with 400 must not make a test pass. ``ok=False`` waits for a failed one,
        ``ok=None`` for either. A predicate raising KeyError/TypeError/IndexError (say
        ``p["text"]`` on a call without text) just doesn't match. Raises AssertionError listing
        the recent calls on timeout.
        """
        wanted = method.lower()
        deadline = time.monotonic() + timeout
        with self._calls_cv:
            position = max(after, 0)
            while True:
                for call in self.calls[position:]:
                    if (
                        call.method.lower() == wanted
                        and (ok is None or call.ok == ok)
                        and _matches(predicate, call.params)
                    ):
                        return call
                position = len(self.calls)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopped:
                    break
                self._calls_cv.wait(remaining)
        raise AssertionError(
            f"no {'successful ' if ok else 'failed ' if ok is False else ''}{method} call "
            f"matching the predicate (index >= {after}) within {timeout:.1f}s\n"
            + self.describe_calls(after=after)
        )

    async def wait_for_async(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        after: int = 0,
        *,
        ok: bool | None = True,
    ) -> Call:
        """:meth:`wait_for` in a worker thread, for tests running the bot on their own loop."""
        return await asyncio.to_thread(self.wait_for, method, predicate, timeout, after, ok=ok)

    def wait_delivered(self, timeout: float = 10.0) -> None:
        """Block until getUpdates has handed out every update enqueued so far."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._next_update_id - 1
        with self._calls_cv:
            while self._delivered_up_to < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"updates up to {target} not fetched within {timeout:.1f}s "
                        f"(fetched up to {self._delivered_up_to})\n" + self.describe_calls()
                    )
                self._calls_cv.wait(remaining)

    def wait_polling(self, timeout: float = 10.0) -> None:
        """Block until the bot is inside a getUpdates request (i.e. it is up and polling).

        Calls are recorded when answered, so a long poll shows up in :attr:`calls` only when
        it returns; this is the way to know polling has started.
        """
        deadline = time.monotonic() + timeout
        with self._calls_cv:
            while self._polls_waiting == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"the bot did not start polling within {timeout:.1f}s\n"
                        + self.describe_calls()
                    )
                self._calls_cv.wait(remaining)

    def describe_calls(self, after: int = 0, last: int = 25) -> str:
        """The recent calls, one per line (getUpdates summarized) -- for failure messages."""
        with self._lock:
            calls = self.calls[max(after, 0) :]
        polls = [c for c in calls if c.method == "getUpdates"]
        others = [c for c in calls if c.method != "getUpdates"][-last:]
        lines = [f"recent calls ({len(polls)} getUpdates not shown):"]
        for call in others:
            params = {
                k: (
                    f"<file {v.file_name} {len(v.content)} bytes>"
                    if isinstance(v, UploadedFile)
                    else v
                )
                for k, v in call.params.items()
            }
            shown = json.dumps(params, ensure_ascii=False)
            if len(shown) > 300:
                shown = shown[:300] + "…"
            outcome = "ok" if call.ok else f"{call.status} {call.description}"
            lines.append(f"  #{call.index} {call.method} [{outcome}] {shown}")
        if not others:
            lines.append("  (none)")
        return "\n".join(lines)

    def messages_to(self, chat_id: int) -> list[JSONDict]:
        """The bot's messages in a chat, oldest first, as they are now (edits applied, deleted
        ones gone). Each is the Message Telegram stores -- ``text`` is the *parsed* text, with
        ``entities`` -- plus two keys for the test: ``parse_mode`` and ``raw_text`` (the text
        exactly as the bot sent it; ``raw_caption`` for documents).
        """
        with self._lock:
            result = []
            for (cid, mid), message in sorted(self._messages.items()):
                if cid != chat_id or message.get("from", {}).get("id") != self.bot_id:
                    continue
                item = copy.deepcopy(message)
                meta = self._meta.get((cid, mid))
                if meta is not None:
                    item["parse_mode"] = meta.parse_mode
                    if meta.raw_text is not None:
                        item["raw_text"] = meta.raw_text
                    if meta.raw_caption is not None:
                        item["raw_caption"] = meta.raw_caption
                result.append(item)
            return result

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Any stored message (user's or bot's) as Telegram holds it now, or None."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The command list set for a scope (default scope when None)."""
        with self._lock:
            return copy.deepcopy(self._commands.get(self._scope_key(scope, language_code), []))

    def file_content(self, file_id: str) -> bytes:
        """Bytes of a stored file (pushed by a user or uploaded by the bot)."""
        with self._lock:
            return self._files[file_id].content

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)

    # ------------------------------------------------------------ error injection

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls to `method` fail with HTTP `status`.

        429 gets ``parameters.retry_after`` (default 1) and "Too Many Requests: retry after N";
        other statuses get a default description by status ("Internal Server Error", "Bad
        Request", ...) unless one is given. Failed calls are recorded (``ok`` False).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
        fault = _Fault("error", status, description, retry_after)
        self._add_fault(method, fault, times)

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls to `method` get no answer: the connection is closed after the
        request is read (httpx: RemoteProtocolError, PTB: NetworkError). Recorded, status 0."""
        self._add_fault(method, _Fault("drop"), times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls to `method` are answered only after `seconds` (timeouts)."""
        self._add_fault(method, _Fault("delay", seconds=seconds), times)

    def _add_fault(self, method: str, fault: _Fault, times: int) -> None:
        with self._lock:
            queue = self._faults.setdefault(method.lower(), deque())
            queue.extend(copy.copy(fault) for _ in range(times))

    # ------------------------------------------------------------ HTTP plumbing

    def _serve(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        try:
            body = _read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        url = urlsplit(handler.path)
        content_type = handler.headers.get("Content-Type", "")
        if url.path.startswith("/file/bot"):
            self._serve_file(handler, url.path, arrived)
            return
        m = re.fullmatch(r"/bot([^/]*)/([^/]*)", url.path)
        if not m:
            self._reply(handler, ApiError(404, "Not Found"))
            return
        token, requested = unquote(m.group(1)), m.group(2)
        canonical, fn = self._methods.get(requested.lower(), (requested, None))

        def record(status: int, result: Any = None, description: str | None = None) -> None:
            self._record(
                Call(
                    canonical,
                    params,
                    arrived,
                    status=status,
                    result=result,
                    description=description,
                    http_method=handler.command,
                    content_type=content_type.split(";")[0].strip(),
                )
            )

        params: JSONDict = {}
        try:
            raw = self._raw_params(url.query, content_type, body)
            params = raw
            params = _normalize(raw)
            if token != self.token:
                if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                    raise ApiError(401, "Unauthorized")
                raise ApiError(404, "Not Found")
            if fn is None:
                raise ApiError(404, "Not Found: method not found")
            fault = self._take_fault(canonical)
            if fault is not None and fault.kind == "drop":
                record(0, description="connection dropped")
                handler.close_connection = True
                return
            if fault is not None and fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault is not None:
                parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
                raise ApiError(fault.status, fault.description, parameters)
            with self._lock:
                result = fn(params)
        except ApiError as err:
            record(err.status, description=err.description)
            self._reply(handler, err)
            return
        except Exception as exc:  # a bug in the stub: say so loudly, like a 500 would
            record(500, description=f"stub error: {exc!r}")
            self._reply(handler, ApiError(500, f"Internal Server Error: stub error: {exc!r}"))
            raise
        payload: JSONDict = {"ok": True, "result": result}
        if canonical == "setWebhook":
            payload["description"] = "Webhook was set"
        elif canonical == "deleteWebhook":
            payload["description"] = "Webhook was deleted"
        record(200, result=copy.deepcopy(result))
        _send(handler, 200, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    @staticmethod
    def _raw_params(query: str, content_type: str, body: bytes) -> JSONDict:
        params: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
        kind = content_type.split(";")[0].strip().lower()
        if not body:
            return params
        if kind == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except ValueError:
                raise _bad("can't parse JSON encoded request") from None
            if not isinstance(data, dict):
                raise _bad("JSON object expected")
            params.update(data)
        elif kind == "multipart/form-data":
            m = re.search(r'boundary="?([^";]+)"?', content_type)
            if not m:
                raise _bad("multipart boundary is missing")
            params.update(parse_multipart(body, m.group(1)))
        else:  # application/x-www-form-urlencoded (and anything else, like Telegram)
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    def _reply(self, handler: _Handler, err: ApiError) -> None:
        payload: JSONDict = {"ok": False, "error_code": err.status, "description": err.description}
        if err.parameters:
            payload["parameters"] = err.parameters
        _send(handler, err.status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def _serve_file(self, handler: _Handler, path: str, arrived: float) -> None:
        rest = unquote(path[len("/file/bot") :])  # PTB percent-encodes the path (":" too)
        token, _, file_path = rest.partition("/")
        with self._lock:
            file_id = self._file_paths.get(file_path) if token == self.token else None
            stored = self._files.get(file_id) if file_id else None
        status = 200 if stored else (401 if token != self.token else 404)
        self._record(
            Call(
                "file",
                {"file_path": file_path},
                arrived,
                status=status,
                http_method=handler.command,
            )
        )
        if stored is None:
            description = "Unauthorized" if status == 401 else "Not Found"
            self._reply(handler, ApiError(status, description))
            return
        _send(handler, 200, stored.content, stored.mime_type or "application/octet-stream")

    def _record(self, call: Call) -> None:
        with self._calls_cv:
            call = replace(call, index=len(self.calls))
            self.calls.append(call)
            self._calls_cv.notify_all()

    def _take_fault(self, canonical: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(canonical.lower())
            return queue.popleft() if queue else None

    # ------------------------------------------------------------ state helpers (lock held)

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

    @staticmethod
    def _reply_copy(message: JSONDict) -> JSONDict:
        replied = copy.deepcopy(message)
        replied.pop("reply_to_message", None)
        return replied

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

    def _store_file(
        self, content: bytes, file_name: str | None, mime_type: str | None
    ) -> _StoredFile:
        self._file_counter += 1
        n = self._file_counter
        stored = _StoredFile(
            file_id=f"BQACAgUAAxkBAAIC{n:08d}ZmlsZV9pZA",
            file_unique_id=f"AgAD{n:06d}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _document_json(stored: _StoredFile) -> JSONDict:
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

    @staticmethod
    def _scope_key(scope: Any, language_code: Any) -> str:
        scope = scope or {"type": "default"}
        return json.dumps([scope, language_code or ""], sort_keys=True, ensure_ascii=False)

    def _target_chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        chat: JSONDict | None
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            chat = next(
                (c for c in self._chats.values() if c.get("username", "").lower() == name), None
            )
        else:
            chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _formatted(
        self, params: JSONDict, text_key: str, entities_key: str, limit: int, empty_ok: bool
    ) -> tuple[str, list[JSONDict], str | None, str]:
        """(text, entities, parse_mode, raw text) after Telegram's parsing and checks."""
        raw = params.get(text_key)
        raw = "" if raw is None else str(raw)
        parse_mode = params.get("parse_mode") or None
        mode = (parse_mode or "").lower()
        try:
            if mode == "html":
                text, entities = parse_html(raw)
            elif mode == "markdownv2":
                text, entities = parse_markdown_v2(raw)
            elif mode == "markdown":
                text, entities = parse_markdown(raw)
            elif mode:
                raise _bad("unsupported parse_mode")
            else:
                text = raw
                given = params.get(entities_key) or []
                if not isinstance(given, list) or not all(
                    isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in given
                ):
                    raise _bad(f"can't parse {entities_key} JSON object")
                entities = sorted(
                    (copy.deepcopy(e) for e in given), key=lambda e: (e["offset"], -e["length"])
                )
        except EntityParseError as err:
            raise _bad(f"can't parse entities: {err}") from None
        text, entities = _trim(text, entities)
        if not text and not empty_ok:
            raise _bad("message text is empty")
        if len(text) > limit:
            raise _bad(
                "message caption is too long" if text_key == "caption" else "message is too long"
            )
        return text, entities, parse_mode, raw

    @staticmethod
    def _inline_markup(params: JSONDict) -> JSONDict | None:
        """The reply_markup a message keeps: inline keyboards only, validated like Telegram."""
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
                raise _bad("can't parse reply keyboard markup JSON object")
            return None  # reply keyboards are not part of the Message object
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button and not _checked_link(str(button["url"])):
                    raise _bad(
                        f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
                    )
        if not any(rows):
            return None
        return copy.deepcopy(markup)

    def _reply_target(self, params: JSONDict, chat_id: int) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = _to_int("message_id", reply.get("message_id"))
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if reply.get("chat_id") not in (None, chat_id):
                return None  # replies to other chats are not simulated
        if message_id is None:
            return None
        replied = self._messages.get((chat_id, message_id))
        if replied is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
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
        markup = self._inline_markup(params)
        message["message_id"] = self._new_message_id(chat_id)
        if replied is not None:
            message["reply_to_message"] = replied
        message.update({k: v for k, v in content.items() if v not in (None, [])})
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _editable(self, params: JSONDict) -> tuple[JSONDict | None, tuple[int, int] | None]:
        """The stored message an edit targets: (message, key), or (inline dict, None)."""
        inline_id = params.get("inline_message_id")
        if inline_id:
            return self._inline_messages.setdefault(str(inline_id), {}), None
        chat = self._target_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        key = (chat["id"], message_id)
        message = self._messages.get(key)
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise _bad("message can't be edited")
        return message, key

    def _apply_edit(
        self, message: JSONDict, key: tuple[int, int] | None, changes: JSONDict, meta: JSONDict
    ) -> Any:
        current = {k: message.get(k) for k in changes}
        if current == {k: (v if v != [] else None) for k, v in changes.items()}:
            raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
        for k, v in changes.items():
            if v in (None, []):
                message.pop(k, None)
            else:
                message[k] = copy.deepcopy(v)
        if key is None:
            return True
        message["edit_date"] = int(time.time())
        stored_meta = self._meta.setdefault(key, _Meta())
        for k, v in meta.items():
            setattr(stored_meta, k, v)
        return copy.deepcopy(message)

    # ------------------------------------------------------------ Bot API methods (lock held)

    @staticmethod
    def _true(params: JSONDict) -> bool:
        return True

    def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset") or 0
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1  # an older waiting getUpdates gets its 409
        self._updates_cv.notify_all()
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        self._polls_waiting += 1
        self._calls_cv.notify_all()
        try:
            return self._poll(generation, deadline, limit)
        finally:
            self._polls_waiting -= 1

    def _poll(self, generation: int, deadline: float, limit: int) -> list[JSONDict]:
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._updates = [
                u for u in self._updates if (u.keys() - {"update_id"}) <= self._allowed_updates
            ]
            batch = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._stopped:
                break
            self._updates_cv.wait(remaining)
        if batch:
            self._delivered_up_to = max(self._delivered_up_to, batch[-1]["update_id"])
        return copy.deepcopy(batch)

    def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {k: v for k, v in params.items() if not isinstance(v, UploadedFile)}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._poll_generation += 1  # a waiting getUpdates gets its 409
        self._updates_cv.notify_all()
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            info["ip_address"] = "127.0.0.1"
            if "allowed_updates" in self.webhook:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        text, entities, parse_mode, raw = self._formatted(
            params, "text", "entities", MAX_TEXT, empty_ok=False
        )
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
        self._meta[(chat["id"], message["message_id"])] = _Meta(parse_mode, raw_text=raw)
        return copy.deepcopy(message)

    def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        document = params.get("document")
        if isinstance(document, UploadedFile):
            stored = self._store_file(
                document.content,
                document.file_name,
                mimetypes.guess_type(document.file_name)[0] or document.content_type,
            )
        elif isinstance(document, str) and document in self._files:
            stored = self._files[document]
        elif isinstance(document, str) and document.startswith(("http://", "https://")):
            name = urlsplit(document).path.rsplit("/", 1)[-1] or "file"
            stored = self._store_file(b"", name, mimetypes.guess_type(name)[0])
        elif document is None or document == "":
            raise _bad("there is no document in the request")
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        caption, entities, parse_mode, raw = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION, empty_ok=True
        )
        message = self._bot_message(
            chat,
            params,
            document=self._document_json(stored),
            caption=caption or None,
            caption_entities=entities,
        )
        self._meta[(chat["id"], message["message_id"])] = _Meta(
            parse_mode, raw_caption=raw if "caption" in params else None
        )
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSONDict) -> Any:
        message, key = self._editable(params)
        if message is None:  # pragma: no cover - _editable raises instead
            raise _bad("message to edit not found")
        if key is not None and "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities, parse_mode, raw = self._formatted(
            params, "text", "entities", MAX_TEXT, empty_ok=False
        )
        changes = {
            "text": text,
            "entities": entities or None,
            "reply_markup": self._inline_markup(params),
        }
        return self._apply_edit(message, key, changes, {"parse_mode": parse_mode, "raw_text": raw})

    def _edit_message_caption(self, params: JSONDict) -> Any:
        message, key = self._editable(params)
        if message is None:  # pragma: no cover
            raise _bad("message to edit not found")
        if key is not None and "text" in message:
            raise _bad("there is no caption in the message to edit")
        caption, entities, parse_mode, raw = self._formatted(
            params, "caption", "caption_entities", MAX_CAPTION, empty_ok=True
        )
        changes = {
            "caption": caption or None,
            "caption_entities": entities or None,
            "reply_markup": self._inline_markup(params),
        }
        return self._apply_edit(
            message, key, changes, {"parse_mode": parse_mode, "raw_caption": raw}
        )

    def _edit_message_reply_markup(self, params: JSONDict) -> Any:
        message, key = self._editable(params)
        if message is None:  # pragma: no cover
            raise _bad("message to edit not found")
        return self._apply_edit(message, key, {"reply_markup": self._inline_markup(params)}, {})

    def _delete_message(self, params: JSONDict) -> bool:
        chat = self._target_chat(params)
        key = (chat["id"], params.get("message_id"))
        if self._messages.pop(key, None) is None:
            raise _bad("message to delete not found")
        self._meta.pop(key, None)
        return True

    def _delete_messages(self, params: JSONDict) -> bool:
        chat = self._target_chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be an array of 1-100 message identifiers")
        for message_id in ids:
            self._messages.pop((chat["id"], int(message_id)), None)
            self._meta.pop((chat["id"], int(message_id)), None)
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_queries or query_id in self.callback_answers:
            raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(params)
        return True

    def _answer_inline_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if query_id not in self._inline_queries or query_id in self.inline_answers:
            raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad("can't parse results JSON object")
        if len(results) > 50:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or "type" not in result or "id" not in result:
                raise _bad("can't parse InlineQueryResult JSON object")
            result_id = str(result["id"])
            if not 1 <= len(result_id.encode("utf-8")) <= 64:
                raise _bad("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                self._formatted(content, "message_text", "entities", MAX_TEXT, empty_ok=False)
            self._inline_markup({"reply_markup": result.get("reply_markup")})
        self.inline_answers[query_id] = dict(params)
        return True

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": str(c["command"]), "description": str(c["description"])} for c in commands
        ]
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        key = self._scope_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._scope_key(params.get("scope"), params.get("language_code")), None)
        return True

    def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD:
            raise _bad("file is too big")
        if stored.file_path is None:
            ext = ""
            if stored.file_name and "." in stored.file_name:
                ext = "." + stored.file_name.rsplit(".", 1)[-1]
            stored.file_path = f"documents/file_{len(self._file_paths)}{ext}"
            self._file_paths[stored.file_path] = stored.file_id
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        return {
            **copy.deepcopy(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _bad("invalid user_id specified")
        user = self.bot_user if user_id == self.bot_id else self._users.get(user_id)
        if user is None:
            raise _bad("user not found")
        status = self._members.get((chat["id"], user_id), "member")
        member: JSONDict = {"status": status, "user": copy.deepcopy(user)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    key: key != "is_anonymous"
                    for key in (
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                    )
                }
            )
            member["can_be_edited"] = False
        elif status == "kicked":
            member["until_date"] = 0
        return member
