"""Hearing of every change at once: a thread that LISTENs on `kb_changed` and calls back.

Every change a worker or a command commits sends NOTIFY kb_changed (reportqa.db.kb); each bot
worker runs one Listener whose callback reloads its LiveKnowledge, so a change reaches every
worker within a moment. A lost connection is retried with growing pauses (and said once); on
reconnecting it calls back once, since changes may have come meanwhile. The bot's periodic
look at the newest change number (handlers.jobs.watch) is the fallback besides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from reportqa.db.kb import CHANNEL

log = logging.getLogger(__name__)
FIRST_PAUSE = 0.5  # seconds before the first retry; doubled up to MAX_PAUSE
MAX_PAUSE = 8.0


class Listener:
    """Calls `on_change()` (in its own thread) whenever the knowledge base changed."""

    def __init__(self, url: str, on_change: Callable[[], object]) -> None:
        self.url = url
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-listener", daemon=True)
        self.connected = threading.Event()  # set while LISTEN is in place (for tests, logs)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pause = FIRST_PAUSE
        lost = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if lost:
                        log.info("database connection back: listening for changes again")
                        self._call()  # changes may have come while it was lost
                    lost, pause = False, FIRST_PAUSE
                    while not self._stop.is_set():
                        if list(conn.notifies(timeout=1.0, stop_after=1)):
                            self._call()
            except psycopg.Error as e:
                self.connected.clear()
                if not lost:
                    log.warning("lost the database connection (%s); retrying", e)
                lost = True
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE)

    def _call(self) -> None:
        try:
            self.on_change()
        except Exception:  # a failed reload must not end the listening
            log.exception("reloading after a change failed")
