"""commands.py: one table from which registration, command menus and help texts are built."""

from __future__ import annotations

import inspect

import render
import telegram_app
from commands import ADMIN_COMMANDS, COMMANDS, USER_COMMANDS
from handlers import handler_of


def test_names_are_unique_and_every_handler_exists() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    for command in COMMANDS:
        assert inspect.iscoroutinefunction(handler_of(command)), command.handler


def test_help_texts_list_exactly_their_commands() -> None:
    for command in USER_COMMANDS:
        assert f"/{command.name} {command.usage}" in render.HELP
        assert f"/{command.name} " not in render.ADMIN_HELP
    for command in ADMIN_COMMANDS:
        assert f"/{command.name} {command.usage}" in render.ADMIN_HELP
        assert f"/{command.name} " not in render.HELP


def test_menus_are_the_table() -> None:
    assert [(c.command, c.description) for c in telegram_app.COMMANDS] == [
        (c.name, c.menu) for c in USER_COMMANDS
    ]
    assert [c.command for c in telegram_app.ADMIN_COMMANDS] == [c.name for c in ADMIN_COMMANDS]
