"""What Telegram checks in a message the bot sends: the text after its parse mode (HTML only
here), its length, and the inline keyboard."""

from __future__ import annotations

import copy

from tests.botapi.calls import bad
from tests.botapi.entities import EntityParseError, JSONDict, checked_link, trim
from tests.botapi.html_parse import parse_html

MAX_TEXT = 4096
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


def _given_entities(params: JSONDict, entities_key: str) -> list[JSONDict]:
    given = params.get(entities_key) or []
    if not isinstance(given, list) or not all(
        isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in given
    ):
        raise bad(f"can't parse {entities_key} JSON object")
    return sorted((copy.deepcopy(e) for e in given), key=lambda e: (e["offset"], -e["length"]))


def formatted(
    params: JSONDict, text_key: str = "text"
) -> tuple[str, list[JSONDict], str | None, str]:
    """(text, entities, parse_mode, raw text) after Telegram's parsing and checks.

    Only the HTML parse mode is simulated (it is the only one the bot uses): Markdown and
    MarkdownV2 get a 400 that says so, any other mode Telegram's "unsupported parse_mode".
    """
    raw = params.get(text_key)
    raw = "" if raw is None else str(raw)
    parse_mode = params.get("parse_mode") or None
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            text, entities = parse_html(raw)
        elif mode in ("markdown", "markdownv2"):
            raise bad(f"parse_mode {parse_mode} is not simulated by the Bot API stand-in")
        elif mode:
            raise bad("unsupported parse_mode")
        else:
            text, entities = raw, _given_entities(params, "entities")
    except EntityParseError as err:
        raise bad(f"can't parse entities: {err}") from None
    text, entities = trim(text, entities)
    if not text:
        raise bad("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad("message is too long")
    return text, entities, parse_mode, raw


def _check_button(button: object) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not any(key in button for key in _BUTTON_ACTIONS):
        raise bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad("BUTTON_DATA_INVALID")
    if "url" in button and not checked_link(str(button["url"])):
        raise bad(f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL")


def inline_markup(params: JSONDict) -> JSONDict | None:
    """The reply_markup a message keeps: inline keyboards only, validated like Telegram."""
    markup = params.get("reply_markup")
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            raise bad("can't parse reply keyboard markup JSON object")
        return None  # reply keyboards are not part of the Message object
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            _check_button(button)
    if not any(rows):
        return None
    return copy.deepcopy(markup)
