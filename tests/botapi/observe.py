"""Watching the bot: waiting for its calls, and reading what it left in the chats."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable

from tests.botapi.calls import Call
from tests.botapi.entities import JSONDict
from tests.botapi.state import StubState


def _matches(predicate: Callable[[JSONDict], bool], params: JSONDict) -> bool:
    """predicate(params); a KeyError/TypeError/IndexError (a param it expects is absent)
    counts as no match."""
    try:
        return bool(predicate(params))
    except (KeyError, TypeError, IndexError):
        return False


class Observer(StubState):
    """The test's view of what the bot did (public, thread-safe)."""

    def wait_for(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        after: int = 0,
        *,
        ok: bool | None = True,
    ) -> Call:
        """Block until a call to `method` (index >= `after`) whose params satisfy `predicate`.

        By default only calls that succeeded count (``ok=True``): a sendMessage Telegram would
        have rejected with 400 must not make a test pass. ``ok=False`` waits for a failed one,
        ``ok=None`` for either. A predicate raising KeyError/TypeError/IndexError (say
        ``p["text"]`` on a call without text) just doesn't match. Raises AssertionError listing
        the recent calls on timeout.
        """
        wanted = method.lower()
        deadline = time.monotonic() + timeout
        with self._calls_cv:
            position = max(after, 0)
            while True:
                for call in self.calls[position:]:
                    if (
                        call.method.lower() == wanted
                        and (ok is None or call.ok == ok)
                        and _matches(predicate, call.params)
                    ):
                        return call
                position = len(self.calls)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopped:
                    break
                self._calls_cv.wait(remaining)
        raise AssertionError(
            f"no {'successful ' if ok else 'failed ' if ok is False else ''}{method} call "
            f"matching the predicate (index >= {after}) within {timeout:.1f}s\n"
            + self.describe_calls(after=after)
        )

    async def wait_for_async(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        after: int = 0,
        *,
        ok: bool | None = True,
    ) -> Call:
        """:meth:`wait_for` in a worker thread, for tests running the bot on their own loop."""
        return await asyncio.to_thread(self.wait_for, method, predicate, timeout, after, ok=ok)

    def wait_delivered(self, timeout: float = 10.0) -> None:
        """Block until getUpdates has handed out every update enqueued so far."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._next_update_id - 1
        with self._calls_cv:
            while self._delivered_up_to < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"updates up to {target} not fetched within {timeout:.1f}s "
                        f"(fetched up to {self._delivered_up_to})\n" + self.describe_calls()
                    )
                self._calls_cv.wait(remaining)

    def wait_polling(self, timeout: float = 10.0) -> None:
        """Block until the bot is inside a getUpdates request (i.e. it is up and polling).

        Calls are recorded when answered, so a long poll shows up in :attr:`calls` only when
        it returns; this is the way to know polling has started.
        """
        deadline = time.monotonic() + timeout
        with self._calls_cv:
            while self._polls_waiting == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"the bot did not start polling within {timeout:.1f}s\n"
                        + self.describe_calls()
                    )
                self._calls_cv.wait(remaining)

    def describe_calls(self, after: int = 0, last: int = 25) -> str:
        """The recent calls, one per line (getUpdates summarized) -- for failure messages."""
        with self._lock:
            calls = self.calls[max(after, 0) :]
        polls = [c for c in calls if c.method == "getUpdates"]
        others = [c for c in calls if c.method != "getUpdates"][-last:]
        lines = [f"recent calls ({len(polls)} getUpdates not shown):"]
        for call in others:
            shown = json.dumps(call.params, ensure_ascii=False)
            if len(shown) > 300:
                shown = shown[:300] + "…"
            outcome = "ok" if call.ok else f"{call.status} {call.description}"
            lines.append(f"  #{call.index} {call.method} [{outcome}] {shown}")
        if not others:
            lines.append("  (none)")
        return "\n".join(lines)

    def messages_to(self, chat_id: int) -> list[JSONDict]:
        """The bot's messages in a chat, oldest first, as they are now (edits applied). Each is
        the Message Telegram stores -- ``text`` is the *parsed* text, with ``entities`` -- plus
        two keys for the test: ``parse_mode`` and ``raw_text`` (the text exactly as the bot sent
        it).
        """
        with self._lock:
            result = []
            for (cid, mid), message in sorted(self._messages.items()):
                if cid != chat_id or message.get("from", {}).get("id") != self.bot_id:
                    continue
                item = copy.deepcopy(message)
                meta = self._meta.get((cid, mid))
                if meta is not None:
                    item["parse_mode"] = meta.parse_mode
                    if meta.raw_text is not None:
                        item["raw_text"] = meta.raw_text
                result.append(item)
            return result

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """Any stored message (user's or bot's) as Telegram holds it now, or None."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The command list set for a scope (default scope when None)."""
        with self._lock:
            return copy.deepcopy(self._commands.get(self._scope_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(self._updates)
