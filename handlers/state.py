"""Typed state shared by the handlers (PTB's bot_data) and the context type that carries it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from telegram.ext import CallbackContext, ExtBot

from chat import ChatService
from config import Settings
from reportqa.kb.live import LiveKnowledge
from reportqa.kb.repository import KnowledgeStore, Repository
from reportqa.sandbox import Sandbox

if TYPE_CHECKING:
    from reportqa.kb.changes import Prepared


@dataclass
class PendingUpload:
    """An upload waiting for 确认入库: its preview, the bytes, and who uploaded it."""

    prepared: Prepared
    data: bytes
    name: str
    admin: int
    flags: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)


class BotData:
    """What every handler needs: the chat service (engine included) and the settings.

    PTB creates this object with no arguments; `bot.py` attaches the real values before the
    application starts.
    """

    def __init__(self) -> None:
        self._service: ChatService | None = None
        self._settings: Settings | None = None
        self._live: LiveKnowledge | None = None
        self.sandbox: Sandbox | None = None  # where uploads are extracted (None: in-process)
        self.pending: dict[str, PendingUpload] = {}  # uploads waiting for 确认入库

    def attach(
        self,
        service: ChatService,
        settings: Settings,
        live: LiveKnowledge,
        sandbox: Sandbox | None = None,
    ) -> None:
        self._service = service
        self._settings = settings
        self._live = live
        self.sandbox = sandbox

    @property
    def live(self) -> LiveKnowledge:
        return _attached(self._live)

    @property
    def repo(self) -> KnowledgeStore:
        """Where the knowledge base is kept: PostgreSQL (DATABASE_URL) or the folder."""
        store = self.live.store
        return store if store is not None else Repository(self.settings.knowledge_dir)

    def expire_uploads(self, ttl: float) -> None:
        now = time.time()
        for token, upload in list(self.pending.items()):
            if now - upload.created > ttl:
                del self.pending[token]

    @property
    def service(self) -> ChatService:
        return _attached(self._service)

    @property
    def settings(self) -> Settings:
        return _attached(self._settings)


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


T = TypeVar("T")


def _attached(value: T | None) -> T:
    assert value is not None, "BotData.attach() was not called"
    return value
