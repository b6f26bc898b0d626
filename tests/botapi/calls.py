"""What the bot asked for and how it was answered: :class:`Call` records, :class:`ApiError`
answers, and the faults a test can queue for the next calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.botapi.entities import JSONDict


@dataclass(frozen=True)
class Call:
    """One HTTP request the bot made.

    ``method`` is the canonical Bot API name (``sendMessage``), or the name as requested when it
    is unknown, or ``"file"`` for a download from ``/file/bot<token>/<path>``. ``params`` are the
    decoded parameters: ints for ids/offsets, objects for JSON-encoded fields (``reply_markup``,
    ``commands``, ...). ``time`` is ``time.monotonic()`` when the request arrived; the call is
    recorded once it has been answered (``getUpdates`` only when its long poll returns).
    ``status`` is the HTTP status sent (0 for a dropped connection), ``result`` the ``result``
    sent back, ``description`` the error description.
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


def bad(description: str) -> ApiError:
    """A 400 "Bad Request: `description`"."""
    return ApiError(400, "Bad Request: " + description)


@dataclass
class Fault:
    """What the next call to a method gets instead of its answer."""

    kind: str  # "error" | "drop" | "delay"
    status: int = 500
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0
