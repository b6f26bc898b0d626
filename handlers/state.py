"""Typed state shared by the handlers (PTB's bot_data) and the context type that carries it."""

from __future__ import annotations

from telegram.ext import CallbackContext, ExtBot

from chat import ChatService
from config import Settings


class BotData:
    """What every handler needs: the chat service (engine included) and the settings.

    PTB creates this object with no arguments; `bot.py` attaches the real values before the
    application starts.
    """

    def __init__(self) -> None:
        self._service: ChatService | None = None
        self._settings: Settings | None = None

    def attach(self, service: ChatService, settings: Settings) -> None:
        self._service = service
        self._settings = settings

    @property
    def service(self) -> ChatService:
        assert self._service is not None, "BotData.attach() was not called"
        return self._service

    @property
    def settings(self) -> Settings:
        assert self._settings is not None, "BotData.attach() was not called"
        return self._settings


Context = CallbackContext[ExtBot[None], dict, dict, BotData]  # type: ignore[type-arg]
