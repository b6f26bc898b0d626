"""Typed state shared by the handlers (PTB's bot_data) and the context type that carries it."""

from __future__ import annotations

from typing import Any, TypeVar

from telegram.ext import CallbackContext, ExtBot

from chat import ChatService
from config import Settings
from reportqa.kb.live import LiveKnowledge
from reportqa.kb.repository import KnowledgeStore, Repository
from reportqa.sandbox import Sandbox
from reportqa.steps import MemorySteps, Steps


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
        self.steps: Steps = MemorySteps()  # uploads waiting for 确认入库, open admin dialogues

    def attach(
        self,
        service: ChatService,
        settings: Settings,
        live: LiveKnowledge,
        sandbox: Sandbox | None = None,
        steps: Steps | None = None,
    ) -> None:
        self._service = service
        self._settings = settings
        self._live = live
        self.sandbox = sandbox
        if steps is not None:  # shared by every worker (DATABASE_URL)
            self.steps = steps

    @property
    def live(self) -> LiveKnowledge:
        return _attached(self._live)

    @property
    def repo(self) -> KnowledgeStore:
        """Where the knowledge base is kept: PostgreSQL (DATABASE_URL) or the folder."""
        store = self.live.store
        return store if store is not None else Repository(self.settings.knowledge_dir)

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
