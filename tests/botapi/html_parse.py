"""Telegram's HTML parse mode: a port of tdlib's ``parse_html`` (same error messages, same byte
offsets), producing the plain text and the Bot API entities Telegram stores."""

from __future__ import annotations

import re

from tests.botapi.entities import EntityParseError, JSONDict, checked_link

_SPACES = frozenset(b" \t\r\n\x00\x0b\x0c")  # td::is_space (the terminating NUL counts)
_GT = 0x3E  # '>'
_TAGS = frozenset(
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
_SIMPLE = {
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


def _link_user_id(url: str) -> int | None:
    m = re.fullmatch(r"tg:(?://)?user/?\?([^#]*)(?:#.*)?", url.strip().lower())
    if not m:
        return None
    for part in m.group(1).split("&"):
        key, _, value = part.partition("=")
        if key == "id":
            return int(value) if re.fullmatch(r"\d{1,10}", value) else None
    return None


def _link_entity(url: str, offset: int, length: int) -> JSONDict | None:
    user_id = _link_user_id(url)
    if user_id is not None:
        return {
            "type": "text_mention",
            "offset": offset,
            "length": length,
            "user": {"id": user_id, "is_bot": False, "first_name": str(user_id)},
        }
    checked = checked_link(url)
    if not checked:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _tag_argument(tag: str, name: bytes, value: str | None, current: str) -> str:
    """The argument a tag keeps after attribute `name` (`value` None: no ``=value``)."""
    if tag == "blockquote" and name == b"expandable":
        return "1"
    if value is None:
        return current
    if tag == "a" and name == b"href":
        return value
    if tag == "code" and name == b"class" and value.startswith("language-"):
        return value[9:]
    if tag == "span" and name == b"class" and value.startswith("tg-"):
        return value[3:]
    if tag == "tg-emoji" and name == b"emoji-id":
        return value
    return current


class _HtmlParser:
    """One run of tdlib's parser over `text`; :meth:`parse` returns (text, entities)."""

    def __init__(self, text: str) -> None:
        try:
            self.b = text.encode("utf-8")
        except UnicodeEncodeError:
            raise EntityParseError("Strings must be encoded in UTF-8") from None
        self.i = 0
        self.u16 = 0  # UTF-16 length of the output so far
        self.out = bytearray()
        self.entities: list[JSONDict] = []
        self.nested: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, out pos

    def parse(self) -> tuple[str, list[JSONDict]]:
        b = self.b
        while self.i < len(b):
            c = b[self.i]
            if c == 0x26 and self._character_reference():  # '&'
                continue
            if c != 0x3C:  # not '<'
                self.u16 += _u16_step(c)
                self.out.append(c)
                self.i += 1
                continue
            begin = self.i
            self.i += 1
            if self._peek() != 0x2F:  # not '/'
                self._start_tag(begin)
            else:
                self._end_tag(begin)
            self.i += 1  # past '>'
        if self.nested:
            tag = self.nested[-1][0]
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        for entity in self.entities:
            entity.pop("_language", None)
        return self._finish()

    # ---------------------------------------------------------------- scanning

    def _peek(self) -> int:
        return _at(self.b, self.i)

    def _skip_spaces(self) -> None:
        while self._peek() != 0 and self._peek() in _SPACES:
            self.i += 1

    def _skip_name(self) -> None:
        while self._peek() not in _SPACES and self._peek() != _GT:
            self.i += 1

    def _character_reference(self) -> bool:
        """Decode the ``&...;`` at the cursor into the output; False if it isn't one."""
        code, end = _decode_html_entity(self.b, self.i)
        if not code:
            return False
        self.u16 += 2 if code > 0xFFFF else 1
        self.out += chr(code).encode("utf-8", "surrogatepass")
        self.i = end
        return True

    # ---------------------------------------------------------------- start tags

    def _start_tag(self, begin: int) -> None:
        self._skip_name()
        if self._peek() == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        tag = self.b[begin + 1 : self.i].lower().decode("utf-8", "replace")
        if tag not in _TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = ""
        while self._peek() != _GT:
            attribute = self._attribute(tag, begin)
            if attribute is None:
                break
            argument = _tag_argument(tag, attribute[0], attribute[1], argument)
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        self.nested.append((tag, argument, self.u16, len(self.out)))

    def _attribute(self, tag: str, begin: int) -> tuple[bytes, str | None] | None:
        """The next attribute (name, value or None), or None at the tag's '>'."""
        self._skip_spaces()
        if self._peek() == _GT:
            return None
        name_begin = self.i
        while self._peek() not in _SPACES and self._peek() not in b"=>/\"'":
            self.i += 1
        name = self.b[name_begin : self.i]
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        self._skip_spaces()
        if self._peek() != 0x3D:  # no '='
            if self._peek() == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            return name, None
        self.i += 1
        self._skip_spaces()
        if self._peek() == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        quoted = self._peek() in (0x27, 0x22)
        value = self._string_literal() if quoted else self._name_token()
        if self._peek() == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        return name, value.decode("utf-8", "replace")

    def _name_token(self) -> bytes:
        begin = self.i
        while _is_alpha(self._peek()) or _is_digit(self._peek()) or self._peek() in (0x2E, 0x2D):
            self.i += 1
        if self._peek() not in _SPACES and self._peek() != _GT:
            raise EntityParseError(f"Unexpected end of name token at byte offset {begin}")
        return self.b[begin : self.i].lower()

    def _string_literal(self) -> bytes:
        b = self.b
        quote = b[self.i]
        self.i += 1
        value = bytearray()
        while self._peek() != quote and self._peek() != 0:
            if b[self.i] == 0x26:  # '&'
                code, end = _decode_html_entity(b, self.i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    self.i = end
                    continue
            value.append(b[self.i])
            self.i += 1
        if self._peek() == quote:
            self.i += 1
        return bytes(value)

    # ---------------------------------------------------------------- end tags

    def _end_tag(self, begin: int) -> None:
        if not self.nested:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        self._skip_name()
        end_tag = self.b[begin + 2 : self.i].lower().decode("utf-8", "replace")
        self._skip_spaces()
        if self._peek() != _GT:
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_pos = self.nested.pop()
        if end_tag and end_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        length = self.u16 - offset
        if length > 0:
            entity = self._entity(tag, argument, {"offset": offset, "length": length}, out_pos)
            if entity is not None:
                self.entities.append(entity)

    def _entity(self, tag: str, argument: str, span: JSONDict, out_pos: int) -> JSONDict | None:
        """The entity a closed tag makes (None: none, or merged into the previous one)."""
        if tag in _SIMPLE or tag == "span":
            return {"type": _SIMPLE.get(tag, "spoiler"), **span}
        if tag == "tg-emoji":
            if not re.fullmatch(r"[0-9]{1,19}", argument) or int(argument) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            return {"type": "custom_emoji", **span, "custom_emoji_id": argument}
        if tag == "a":
            url = argument or self.out[out_pos:].decode("utf-8", "replace")
            return _link_entity(url, span["offset"], span["length"])
        if tag in ("pre", "code"):
            return self._code_entity(tag, argument, span)
        kind = "expandable_blockquote" if argument else "blockquote"
        return {"type": kind, **span}

    def _code_entity(self, tag: str, argument: str, span: JSONDict) -> JSONDict | None:
        """``<pre>`` and ``<code>``; ``<pre><code class="language-x">`` is one pre entity."""
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (
            span["offset"],
            span["length"],
        )
        if tag == "pre":
            if same_span and last is not None and last["type"] == "code" and last.get("_language"):
                last["type"] = "pre"
                last["language"] = last.pop("_language")
                return None
            return {"type": "pre", **span}
        if same_span and last is not None and last["type"] == "pre" and argument:
            last["language"] = argument
            return None
        entity = {"type": "code", **span}
        if argument:
            entity["_language"] = argument
        return entity

    def _finish(self) -> tuple[str, list[JSONDict]]:
        try:
            text = self.out.decode("utf-8")
        except UnicodeDecodeError:
            raise EntityParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return text, self.entities


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML parse mode (a port of tdlib's ``parse_html``).

    Returns the plain text and the Bot API entities (UTF-16 offsets). Raises
    :class:`EntityParseError` with tdlib's message (byte offsets into the UTF-8 text) for
    anything Telegram rejects: unsupported tags (``<br>``, ``<p>``, a bare ``<`` ...), unclosed or
    mismatched tags, malformed attributes.
    """
    return _HtmlParser(text).parse()
