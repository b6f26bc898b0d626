"""The stand-in itself: :class:`BotApiStub` puts the parts together -- the users' side, the
observer's side, the Bot API methods the bot calls -- and serves them over HTTP."""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from types import TracebackType

from tests.botapi.calls import Fault
from tests.botapi.files import FileMethods
from tests.botapi.messages import MessageMethods
from tests.botapi.observe import Observer
from tests.botapi.queries import QueryMethods
from tests.botapi.server import Server
from tests.botapi.session import SessionMethods
from tests.botapi.state import Method
from tests.botapi.users import UserSide
from tests.botapi.webhook import WebhookDelivery


class BotApiStub(
    UserSide,
    Observer,
    SessionMethods,
    MessageMethods,
    QueryMethods,
    FileMethods,
    WebhookDelivery,
):
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
        super().__init__(token, bot_username, bot_first_name)
        self._webhook_init()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        methods: dict[str, Method] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "setMyCommands": self._set_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "getFile": self._get_file,
        }  # what the bot calls; any other method is a 404 "Not Found: method not found"
        self._methods = {name.lower(): (name, fn) for name, fn in methods.items()}

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
        self._server = Server(self, port)
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
        fault = Fault("error", status, description, retry_after)
        self._add_fault(method, fault, times)

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls to `method` get no answer: the connection is closed after the
        request is read (httpx: RemoteProtocolError, PTB: NetworkError). Recorded, status 0."""
        self._add_fault(method, Fault("drop"), times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls to `method` are answered only after `seconds` (timeouts)."""
        self._add_fault(method, Fault("delay", seconds=seconds), times)
