"""Live across workers (reportqa/kb/live.py with PostgreSQL, reportqa/db/listen.py): a change
committed through one worker's store reaches another worker's engine within 2 s, and questions
keep being answered from the last index while the database restarts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import ROOT_DIR

from reportqa.db.listen import Listener
from reportqa.db.repository import PgRepository
from reportqa.kb import changes
from reportqa.kb.live import LiveKnowledge

CORPUS = ROOT_DIR / "tests" / "data" / "corpus"
NEW_QUESTION = "坪山区2023年地区生产总值是多少"


def worker(url: str, folder: Path) -> tuple[LiveKnowledge, Listener]:
    """One bot worker's knowledge: its own store, local cache folder and listener."""
    folder.mkdir()
    live = LiveKnowledge(folder, store=PgRepository(url, folder))
    listener = Listener(url, live.reload).start()
    assert listener.connected.wait(10)
    return live, listener


def answered_from(live: LiveKnowledge, needle: str) -> bool:
    answer = live.engine.ask(NEW_QUESTION)
    return bool(answer.hits) and needle in answer.hits[0].report.source_file


def wait_until(check, seconds: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def test_a_change_on_one_worker_reaches_another_within_two_seconds(
    pg_loaded: str, tmp_path: Path
) -> None:
    a, listener_a = worker(pg_loaded, tmp_path / "a")
    b, listener_b = worker(pg_loaded, tmp_path / "b")
    try:
        assert not answered_from(b, "dev_030")
        changes.ingest_file(CORPUS / "dev_030.txt", a.folder, repo=a.store)  # type: ignore[arg-type]
        took = wait_until(lambda: answered_from(b, "dev_030"), 2.0)
        assert took < 2.0
        wait_until(lambda: answered_from(a, "dev_030"), 2.0)  # the worker that made it, too
    finally:
        listener_a.stop()
        listener_b.stop()


def test_questions_are_answered_while_the_database_restarts(
    pg_loaded: str,
    tmp_path: Path,
    pg_server,  # type: ignore[no-untyped-def]
) -> None:
    live, listener = worker(pg_loaded, tmp_path / "w")
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def ask() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert live.engine.ask("舟山市科技局2020年公开了多少条政府信息？").answered
                answered += 1
            except BaseException as e:
                failures.append(e)
            time.sleep(0.01)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        pg_server.stop_server()
        try:
            for _ in range(3):  # the watcher's look while it is down: quick, "no change"
                start = time.monotonic()
                assert live.changed_on_disk() is False
                assert time.monotonic() - start < 5
            assert not live.reload(force=True).changed  # the last engine keeps serving
        finally:
            pg_server.start_server()  # for the tests after this one, whatever happened
        time.sleep(0.3)
        stop.set()
        asker.join()
        assert failures == [] and answered > 10
        assert listener.connected.wait(15)  # back, by itself
        store = PgRepository(pg_loaded, tmp_path / "w")
        changes.ingest_file(CORPUS / "dev_030.txt", tmp_path / "w", repo=store)
        wait_until(lambda: answered_from(live, "dev_030"), 5.0)
    finally:
        stop.set()
        listener.stop()
