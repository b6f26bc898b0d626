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
chats, callback data over 64 bytes. Texts sent with ``parse_mode`` HTML are stored the way
Telegram stores them: plain ``text`` plus ``entities``; the text as the bot sent it is kept
alongside (``raw_text`` / ``parse_mode`` in :meth:`BotApiStub.messages_to`).

Only what the bot uses is simulated: the methods in :class:`BotApiStub`'s table (getMe,
getUpdates, setWebhook, deleteWebhook, setMyCommands, sendMessage, editMessageText,
editMessageReplyMarkup, sendChatAction, answerCallbackQuery, answerInlineQuery, getFile) and
file downloads; any other method gets Telegram's 404 "Not Found: method not found". Nor are
simulated: the Markdown parse modes (a 400 says so), file uploads (multipart/form-data, a 400),
group privacy mode (every pushed update is delivered), media other than the
documents users send, automatic url/hashtag entities in the bot's own messages, rate limits
(inject them with :meth:`BotApiStub.fail_next`).

The modules: ``entities`` (UTF-16 lengths, user-side entities), ``html_parse`` (the HTML parse
mode), ``formatting`` (text and keyboard checks), ``params`` (request decoding), ``calls``
(records, errors, faults), ``server`` (HTTP), ``state`` (the data), ``users`` / ``observe``
(the test's two sides), ``session`` / ``messages`` / ``queries`` / ``files`` (the Bot API
methods), ``webhook`` (delivery to a webhook the test routes; like Telegram, a webhook makes
``getUpdates`` fail with 409), ``stub`` (:class:`BotApiStub`).
"""

from tests.botapi.calls import ApiError, Call
from tests.botapi.entities import EntityParseError, user_entities, utf16_len
from tests.botapi.html_parse import parse_html
from tests.botapi.stub import BotApiStub

__all__ = [
    "ApiError",
    "BotApiStub",
    "Call",
    "EntityParseError",
    "parse_html",
    "user_entities",
    "utf16_len",
]
