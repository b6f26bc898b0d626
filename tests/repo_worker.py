"""A separate process that changes a knowledge folder, for tests/test_repository.py (killed
with SIGKILL, raced against another process, or made to die at a named step).

    repo_worker.py FOLDER N                 N changes in a loop, "done K" after each (see below)
    repo_worker.py FOLDER facts ACTOR N [PAUSE]
                                            wait for a line on stdin, then add N facts
                                            (PAUSE seconds apart, default 0: at full speed)
    repo_worker.py FOLDER upload DELAY      prepare an upload, wait for a line on stdin, sleep
                                            DELAY seconds, then save it
    repo_worker.py FOLDER die STEP          save a new report and die (os._exit, no clean-up)
                                            at the checkpoint STEP

The loop's change K (1-based) is: K % 3 == 1 add the fact loop_question(K) (citing
LOOP_REPORT); K % 3 == 2 remove that fact again; K % 3 == 0 save the report `worker-report`
whose text holds the counter K. So after K completed changes the folder holds exactly
loop_expected(K). Every mode prints "ready" once its imports are done.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reportqa.kb import changes, validate  # noqa: E402
from reportqa.kb.repository import Repository  # noqa: E402

LOOP_REPORT = "004_44d86d126aed4ddd"
LOOP_SOURCE = "worker-report.txt"
UPLOAD_NAME = "ningbo-czj-2021-upload.txt"


def loop_question(k: int) -> str:
    return f"第{k}轮测试的问题是什么？"


def loop_report_text(k: int) -> str:
    return (
        "宁波市财政局2021年法治政府建设工作总结\n"
        "一、主要工作\n"
        "（一）组织领导\n"
        f"本轮计数为第{k}轮，召开专题会议{k}次。\n"
        "二、下一步安排\n"
        "继续推进依法理财。\n"
    )


def loop_expected(k: int) -> tuple[tuple[str, ...], int | None]:
    """(questions of the facts, counter in worker-report or None) after k changes."""
    facts = (loop_question(k),) if k % 3 == 1 else ()
    counter = 3 * (k // 3) if k >= 3 else None
    return facts, counter


def upload_text() -> str:
    return (
        "宁波市财政局2021年法治政府建设工作总结\n"
        "一、主要工作及成效\n"
        "（一）加强组织领导\n"
        "成立法治政府建设工作领导小组，召开专题会议6次。\n"
        "（二）推进依法行政\n"
        "全年审查规范性文件12件，合法性审查率达到100%。\n"
    )


def say(line: str) -> None:
    print(line, flush=True)


def run_loop(folder: Path, n: int) -> None:
    repo = Repository(folder)
    say("ready")
    fact_id = ""
    for k in range(1, n + 1):
        if k % 3 == 1:
            fact, _ = changes.add_fact(repo, loop_question(k), f"答案{k}", LOOP_REPORT, "worker")
            fact_id = fact.id
        elif k % 3 == 2:
            changes.remove_fact(repo, fact_id, "worker")
        else:
            data = loop_report_text(k).encode("utf-8")
            prepared = changes.prepare_upload(data, LOOP_SOURCE, folder)
            changes.save_report(repo, prepared, "worker")
        say(f"done {k}")


def run_facts(folder: Path, actor: str, n: int, pause: float) -> None:
    repo = Repository(folder)
    say("ready")
    sys.stdin.readline()
    for i in range(n):
        changes.add_fact(repo, f"{actor}的第{i}个问题？", f"{actor}的答案{i}", LOOP_REPORT, actor)
        if pause:
            time.sleep(pause)
    say("finished")


def run_upload(folder: Path, delay: float) -> None:
    prepared = changes.prepare_upload(upload_text().encode("utf-8"), UPLOAD_NAME, folder)
    say("ready")
    sys.stdin.readline()
    time.sleep(delay)
    change = changes.save_report(Repository(folder), prepared, "chat:42")
    say(f"saved {prepared.report.report_id} #{change.seq}")


def run_die(folder: Path, step: str) -> None:
    def checkpoint(name: str) -> None:
        if name == step:
            os._exit(17)  # like SIGKILL: no finally, no clean-up

    prepared = changes.prepare_upload(upload_text().encode("utf-8"), UPLOAD_NAME, folder)
    say("ready")
    changes.save_report(Repository(folder, checkpoint=checkpoint), prepared, "chat:42")
    say("step not reached")


def main(argv: list[str]) -> int:
    folder = Path(argv[1])
    mode = argv[2]
    if mode == "facts":
        run_facts(folder, argv[3], int(argv[4]), float(argv[5]) if len(argv) > 5 else 0.0)
    elif mode == "upload":
        run_upload(folder, float(argv[3]))
    elif mode == "die":
        run_die(folder, argv[3])
    else:
        run_loop(folder, int(mode))
    validate.load(folder)  # the folder a finished worker leaves must load
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
