"""Run untrusted work -- extracting and ingesting a file someone handed us -- in a child process
with a time limit and a memory limit.

A hostile file (a zip or PDF bomb, a page that takes minutes to parse) must neither freeze the
bot nor exhaust the machine. The work runs in a separate process, so the bot's event loop (and
its GIL) stay free for questions; the child's address space is capped (RLIMIT_AS), and a job
that runs out of time is killed. The child is started once and reused, and replaced after a job
that hit a limit. `close()` may be called from any thread and ends a running job at once (a
bot that is asked to stop does not wait for an upload to finish).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import resource
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from reportqa.models import ReportQAError

log = logging.getLogger(__name__)
TIME_LIMIT = 60.0  # seconds for one job; the extractor's own bounds make real files far faster
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for the child
T = TypeVar("T")


class LimitExceeded(ReportQAError):
    """The job ran out of time or memory (or its process died); the message is for the user."""


def _serve(conn: Connection, memory_limit: int) -> None:
    """The child: run jobs from `conn` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the child stops
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            conn.send(("memory", None))
            return  # the heap may be in pieces: the next job gets a fresh child
        except Exception as e:  # the parent raises it again
            reply = ("error", e)
        try:
            conn.send(reply)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({e})")))
        except MemoryError:
            conn.send(("memory", None))
            return


def _nothing() -> None:
    pass


class Sandbox:
    """A child process that runs one job at a time under TIME_LIMIT and MEMORY_LIMIT."""

    def __init__(self, time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT) -> None:
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self._lock = threading.Lock()  # one job at a time
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._closed = False

    def start(self, warm_up: Callable[[], object] | None = None) -> None:
        """Start the child now rather than at the first job; `warm_up` runs in it first, to
        load what the jobs will need (the jobs' own module: kb.changes.warm_up)."""
        self.run(warm_up or _nothing)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the child: its result, or the exception it raised; LimitExceeded when
        it ran out of time or memory. `fn` and its arguments must pickle."""
        with self._lock:
            conn = self._ensure()
            try:
                conn.send((fn, args))
                ready = conn.poll(self.time_limit)
            except (OSError, EOFError):
                ready = True  # the child is gone: recv() below says so
            if not ready:
                self._kill()
                raise LimitExceeded(
                    f"处理超时（超过 {self.time_limit:.0f} 秒），已停止；文件可能过大或结构异常，"
                    "请拆分或另存为 .txt 后重试"
                )
            try:
                status, value = conn.recv()
            except (EOFError, OSError) as e:
                self._kill()
                if self._closed:
                    raise LimitExceeded("已停止处理（程序正在退出）") from e
                raise LimitExceeded(
                    "处理文件时进程意外退出（可能超出内存上限），知识库没有任何改动；"
                    "请检查文件后重试"
                ) from e
        if status == "ok":
            return value  # type: ignore[no-any-return]
        if status == "memory":
            self._kill()
            raise LimitExceeded(
                f"处理文件超出内存上限（{self.memory_limit / 1024**3:.0f} GB），已停止；"
                "文件可能过大或结构异常，请拆分后重试"
            )
        raise value

    def close(self) -> None:
        """Stop the child, ending a running job (any thread may call this)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()  # a job waiting on the pipe sees it close and ends
        if self._lock.acquire(blocking=False):
            try:
                self._kill()
            finally:
                self._lock.release()

    def _ensure(self) -> Connection:
        if self._closed:
            raise LimitExceeded("已停止处理（程序正在退出）")
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            return self._conn
        self._kill()
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_serve, args=(child, self.memory_limit), daemon=True, name="reportqa-sandbox"
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        return parent

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(5)
        if conn is not None:
            conn.close()
