"""Text as Telegram counts it: UTF-16 lengths, the entities it finds in what users type, the
whitespace it trims, and the links it accepts."""

from __future__ import annotations

import re
from typing import Any

JSONDict = dict[str, Any]


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units -- the unit of Telegram's entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class EntityParseError(ValueError):
    """Telegram's "can't parse entities" -- the message is tdlib's, word for word."""


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _word_end(text: str, start: int) -> int:
    """The end of the run of ``[A-Za-z0-9_]`` starting at `start`."""
    end = start
    while end < len(text) and _is_ascii_word(text[end]):
        end += 1
    return end


def _command_end(text: str, i: int) -> int | None:
    """Where the bot command starting with the "/" at `i` ends, or None if it isn't one."""
    n = len(text)
    if i > 0 and (_is_word_char(text[i - 1]) or text[i - 1] in "/<>"):
        return None
    j = _word_end(text, i + 1)
    if not 1 <= j - i - 1 <= 64:
        return None
    if j < n and text[j] == "@":
        k = _word_end(text, j + 1)
        if not 3 <= k - j - 1 <= 32:
            return None
        j = k
    if j < n and (_is_word_char(text[j]) or text[j] in "/<>"):
        return None
    return j


def _mention_end(text: str, i: int) -> int | None:
    """Where the mention starting with the "@" at `i` ends, or None if it isn't one."""
    if i > 0 and _is_word_char(text[i - 1]):
        return None
    j = _word_end(text, i + 1)
    if not 2 <= j - i - 1 <= 32 or (j < len(text) and _is_word_char(text[j])):
        return None
    return j


def user_entities(text: str) -> list[JSONDict]:
    """The entities Telegram detects in what a user types: ``bot_command`` and ``mention``.

    Follows tdlib's matchers: a command is ``/`` plus 1-64 of ``[A-Za-z0-9_]`` (optionally
    ``@botname``) not glued to a word character, so ``/ask 问题`` is a command but ``/ask问题``
    is not; a mention is ``@`` plus 2-32 of ``[A-Za-z0-9_]``.
    """
    found: list[tuple[int, int, str]] = []
    for i, ch in enumerate(text):
        end = _command_end(text, i) if ch == "/" else None
        if end is not None:
            found.append((i, end, "bot_command"))
    for i, ch in enumerate(text):
        end = _mention_end(text, i) if ch == "@" else None
        if end is not None and not any(s <= i < e for s, e, _ in found):
            found.append((i, end, "mention"))
    found.sort()
    return [
        {"type": kind, "offset": utf16_len(text[:s]), "length": utf16_len(text[s:e])}
        for s, e, kind in found
    ]


def trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
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


def checked_link(url: str) -> str:
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
