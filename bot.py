"""Composition root and command line: settings, logging, the engine, and the subcommands.

    python bot.py                      console chat (or the Telegram bot when a token is set)
    python bot.py ask [--json] [--top N] [QUESTION ...]
    python bot.py ingest PATH... [--agency A] [--year Y] [--title T] [--doc-type D] [--dry-run]
    python bot.py rebuild              re-ingest every raw file in knowledge/sources
    python bot.py validate             check every knowledge file; path:line: message
    python bot.py reports [--json]
    python bot.py eval GOLD.yaml [--verbose]

Every subcommand reads the knowledge folder from $KNOWLEDGE_DIR (default ./knowledge).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from config import ConfigError, Settings, load_settings

log = logging.getLogger("bot")


class RedactingFormatter(logging.Formatter):
    """Formats log records with every secret replaced: the bot token is part of every Bot API
    URL, and URLs end up in exception messages."""

    def __init__(self, fmt: str, secrets: list[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


class StartupRetryLog(logging.Filter):
    """python-telegram-bot retries a failed start (Telegram unreachable) with backoff but says
    so only at DEBUG: each retry is said at WARNING, other DEBUG lines stay hidden unless -v."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)  # not getMessage(): most records here are never shown
        if "Invalid token" in template:
            return False  # main() says it in one line; the traceback would quote the token
        if "Failed run number" in template and "Retrying" in template:
            record.msg = "Telegram 暂时无法连接，稍后自动重试（%s）"
            record.args = (template % record.args if record.args else template,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        return record.levelno >= logging.INFO or self.verbose


NETWORK_LOOP_LOGGER = "telegram.ext"  # PTB logs its retry loop under this name


def setup_logging(verbose: bool = False, secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets or [])
    handler.setFormatter(formatter)
    # PTB's loggers are set to DEBUG below (for its retry loop); without -v their DEBUG lines
    # (every update's text, every call's parameters) stop here
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore", "jieba"):  # httpx logs URLs, and URLs hold the token
        logging.getLogger(noisy).setLevel(logging.WARNING)
    retries = logging.getLogger(NETWORK_LOOP_LOGGER)
    retries.setLevel(logging.DEBUG)
    retries.filters[:] = [StartupRetryLog(verbose)]
    sys.excepthook = _redacting_excepthook(formatter)


def _redacting_excepthook(formatter: RedactingFormatter):  # type: ignore[no-untyped-def]
    """An uncaught exception's traceback, with every secret redacted like the log lines."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        for secret in formatter.secrets:
            text = text.replace(secret, "[REDACTED]")
        sys.stderr.write(text)

    return hook


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    """Where the knowledge base is kept: PostgreSQL with DATABASE_URL, else the folder."""
    if settings.database_url:
        from reportqa.db.repository import PgRepository

        return PgRepository(settings.database_url, settings.knowledge_dir)
    from reportqa.kb.repository import Repository

    return Repository(settings.knowledge_dir)


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The engine over the knowledge base (its index cached in the local knowledge folder)."""
    from reportqa.kb.open import open_engine

    if settings.database_url:
        return open_engine(settings.knowledge_dir, files=_store(settings).snapshot())
    return open_engine(settings.knowledge_dir)


# ---------------------------------------------------------------- subcommands


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    import render

    engine = _engine(settings)
    if hasattr(sys.stdin, "reconfigure"):  # an undecodable byte must not end the batch
        sys.stdin.reconfigure(errors="surrogateescape")
    questions: Iterable[str] = [" ".join(args.question)] if args.question else _stdin_lines()
    for question in questions:
        answer = engine.ask(question, top=args.top)
        if args.json:
            print(json.dumps(answer.as_json(), ensure_ascii=False), flush=True)
        else:
            print(render.plain(answer) + "\n", flush=True)
    return 0


def _stdin_lines() -> Iterator[str]:
    for line in sys.stdin:
        yield line.rstrip("\r\n")


def _service(settings: Settings):  # type: ignore[no-untyped-def]
    """The chat service over the live knowledge base (which can be swapped while running),
    the live knowledge base, and where admin work under way is kept (None: in the process)."""
    from chat import ChatService
    from reportqa.kb.live import LiveKnowledge

    if settings.database_url:  # one of many workers: knowledge and state in PostgreSQL
        import functools

        from reportqa.db.conversations import PgConversations
        from reportqa.db.listen import Listener
        from reportqa.db.state import PgRateLimiter, claim_digest, state_pool
        from reportqa.db.steps import PgSteps

        store = _store(settings)
        live = LiveKnowledge(settings.knowledge_dir, store=store)
        Listener(settings.database_url, live.reload).start()  # every change, from any worker
        pool = state_pool(settings.database_url)  # its own: a long change never holds it up
        service = ChatService(
            lambda: live.engine,
            settings.state_dir,
            PgRateLimiter(pool),  # one budget per user across the workers
            functools.partial(claim_digest, pool),
            PgConversations(pool),  # a conversation goes on on any worker
        )
        return service, live, PgSteps(pool)
    live = LiveKnowledge(settings.knowledge_dir)
    return ChatService(lambda: live.engine, settings.state_dir), live, None


def cmd_console(settings: Settings) -> int:
    from console import Console

    service, _, _ = _service(settings)
    console = Console(service)
    n = len(service.engine.kb.reports)
    print(
        f"政府报告问答（控制台）：知识库收录 {n} 份报告。"
        "输入问题回车提问，/help 查看用法，输入 exit 或 Ctrl-D 退出。"
    )
    while True:
        try:
            line = input("问> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.strip().lower() in {"exit", "quit", "退出"}:
            return 0
        if line.strip():
            print(console.reply(line) + "\n")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.ingest import IngestFailed, Overrides
    from reportqa.kb.changes import ingest_file
    from reportqa.kb.repository import ChangeRejected
    from reportqa.sandbox import LimitExceeded, Sandbox

    overrides = Overrides(
        agency=args.agency,
        year=args.year,
        title=args.title,
        doc_type=args.doc_type,
        report_id=args.id,
    )
    paths = [Path(p) for p in args.paths]
    done = passages = 0
    needs: dict[str, list[str]] = {}
    rows: list[tuple[str, str, str]] = []  # file, outcome, detail: the summary table
    sandbox = Sandbox()  # each file is read under a time and a memory limit
    store = _store(settings)
    try:
        for path in _progress(paths):
            try:
                outcome = ingest_file(
                    path, settings.knowledge_dir, overrides, args.dry_run, _actor(), sandbox, store
                )
            except (IngestFailed, LimitExceeded, ChangeRejected) as e:
                message = str(e) if str(e).startswith(path.name) else f"{path.name}: {e}"
                print(f"错误：{message}", file=sys.stderr)
                reason = message.removeprefix(f"{path.name}: ").replace("\n", " ")
                rows.append((path.name, "未导入", reason))
                continue
            _report_ingested(outcome, args.dry_run)
            done += 1
            passages += len(outcome.report.passages)
            if outcome.needs_flag:
                needs[path.name] = outcome.needs_flag
                rows.append((path.name, "需补充", _flags_hint(outcome.needs_flag)))
            else:
                rows.append((path.name, "已导入", outcome.report.report_id))
    finally:
        sandbox.close()
    failed = [r for r in rows if r[1] == "未导入"]
    print(
        f"完成：{done} 个文件，{passages} 段，失败 {len(failed)} 个"
        + ("（试运行，未写入）" if args.dry_run else ""),
        file=sys.stderr,
    )
    for name, fields in needs.items():
        print(
            f"需要补充：{name}: 未能识别 {', '.join(fields)}，请用 {_flags(fields)} 指定",
            file=sys.stderr,
        )
    if len(paths) > 1:
        counts = {k: sum(r[1] == k for r in rows) for k in ("已导入", "需补充", "未导入")}
        print("\n汇总：" + "，".join(f"{k} {n} 个" for k, n in counts.items()), file=sys.stderr)
        print("文件\t结果\t说明", file=sys.stderr)
        for row in rows:
            print("\t".join(row), file=sys.stderr)
    return 1 if failed else 0


def _flags(fields: list[str]) -> str:
    """The ingest flags that give these fields: --agency --doc-type …"""
    return " ".join(f"--{f.replace('_', '-')}" for f in fields)


def _flags_hint(fields: list[str]) -> str:
    names = {"agency": "机构", "year": "年份", "title": "标题", "doc_type": "类型"}
    return f"已导入，未能识别{'、'.join(names.get(f, f) for f in fields)}（{_flags(fields)}）"


def _report_ingested(outcome, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    r = outcome.report
    action = "将写入" if dry_run else ("已更新" if outcome.replaced else "已写入")
    title = f"{r.title}（推定）" if r.title and "title" in outcome.needs_flag else r.title
    print(
        f"{action} {r.report_id}: {r.agency or '?'} · {title or '?'} · {r.year or '?'} · "
        f"{r.doc_type or '?'} · {len(r.passages)} 段",
        file=sys.stderr,
    )


def _progress(paths: list[Path]) -> Iterable[Path]:
    """A progress bar on a terminal; plain lines in a log."""
    if len(paths) > 1 and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(paths, desc="导入", unit="份", file=sys.stderr)
    if len(paths) > 1:
        return (_announce(i, len(paths), p) for i, p in enumerate(paths, 1))
    return paths


def _announce(i: int, n: int, path: Path) -> Path:
    print(f"[{i}/{n}] {path.name}", file=sys.stderr, flush=True)
    return path


def cmd_rebuild(settings: Settings) -> int:
    from reportqa.ingest import IngestFailed
    from reportqa.kb.changes import rebuild
    from reportqa.sandbox import LimitExceeded, Sandbox

    sandbox = Sandbox()
    try:
        outcomes = rebuild(settings.knowledge_dir, _actor(), sandbox)
    except (IngestFailed, LimitExceeded) as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1
    finally:
        sandbox.close()
    for o in outcomes:
        print(f"{o.report.report_id}: {len(o.report.passages)} 段", file=sys.stderr)
    print(f"完成：重建 {len(outcomes)} 份报告", file=sys.stderr)
    return 0


def _actor() -> str:
    import getpass

    try:
        return f"shell:{getpass.getuser()}"
    except (OSError, KeyError):
        return "shell"


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.kb.changes import remove_report

    change = remove_report(_store(settings), args.report_id, _actor())
    print(f"已删除 {args.report_id}（{change.describe()}；可用 bot.py undo 撤销）", file=sys.stderr)
    return 0


def cmd_facts(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.kb import changes, schema

    repo = _store(settings)
    if args.facts_command == "add":
        fact, _ = changes.add_fact(
            repo,
            args.question,
            args.answer,
            args.report,
            _actor(),
            tuple(args.alt or ()),
            args.section or "",
        )
        print(f"已添加事实 {fact.id}", file=sys.stderr)
    elif args.facts_command == "remove":
        changes.remove_fact(repo, args.fact_id, _actor())
        print(f"已删除事实 {args.fact_id}", file=sys.stderr)
    else:
        facts = repo.facts()
        if args.json:
            print(json.dumps([schema.fact_to_dict(f) for f in facts], ensure_ascii=False))
        for f in [] if args.json else facts:
            print(f"{f.id}\t{f.question}\t→ {f.answer}\t[{f.report_id}]")
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    repo = _store(settings)
    if args.all:
        records, total = repo.audit_page(1, 10**9)
    else:
        records, total = repo.audit_page(args.page, args.limit)
    for record in records:
        print(
            f"#{record.get('seq')}\t{record.get('time')}\t{record.get('actor')}\t"
            f"{record.get('action')}\t{record.get('target')}\t{record.get('outcome')}"
        )
    pages = max(1, -(-total // args.limit))
    if not args.all and total:
        more = f"；更早的：bot.py history --page {args.page + 1}" if args.page < pages else ""
        print(f"第 {args.page}/{pages} 页，共 {total} 条{more}", file=sys.stderr)
    if not records and total:
        print(f"没有第 {args.page} 页（共 {pages} 页）", file=sys.stderr)
        return 1
    return 0


def cmd_undo(settings: Settings) -> int:
    change = _store(settings).undo(_actor())
    print(f"已撤销：{change.target}", file=sys.stderr)
    return 0


def cmd_validate(settings: Settings) -> int:
    from reportqa.kb import validate

    folder = settings.knowledge_dir
    files = _store(settings).snapshot(manifest=True)  # never half a change
    kb, problems = validate.check(folder, overlay=dict(files), exact=True)
    for p in problems:
        print(p)
    if kb is None:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(
        f"ok: {len(kb.reports)} reports, {kb.passage_count} passages, {len(kb.facts)} facts "
        f"in {settings.knowledge_dir}"
    )
    return 0


def cmd_reports(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.kb import schema, validate

    folder = settings.knowledge_dir
    kb, problems = validate.check(folder, overlay=dict(_store(settings).snapshot()), exact=True)
    if kb is None:
        raise schema.KnowledgeError(problems)
    rows = [
        {
            "report_id": r.report_id,
            "agency": r.agency,
            "title": r.title,
            "year": r.year,
            "doc_type": r.doc_type,
            "source_file": r.source_file,
            "passages": len(r.passages),
        }
        for r in kb.reports
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for row in rows:
        print(
            f"{row['report_id']}\t{row['agency']}\t{row['year']}\t{row['doc_type']}\t"
            f"{row['passages']} 段\t《{row['title']}》\t{row['source_file']}"
        )
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.evaluate import evaluate, load_gold

    if args.ingest:
        return _eval_ingested(args, settings)
    engine = _engine(settings)
    for n, gold in enumerate(args.gold):
        result = evaluate(engine, load_gold(Path(gold)))
        if len(args.gold) > 1:
            print(("\n" if n else "") + f"{gold}:")
        _print_quality(result, args.misses)
    return 0


def _print_quality(result, verbose: bool) -> None:  # type: ignore[no-untyped-def]
    if verbose and result.misses:
        print("misses:")
        for miss in result.misses:
            print(miss)
        print()
    print(result.table())


def _eval_ingested(args: argparse.Namespace, settings: Settings) -> int:
    """eval --ingest FOLDER: a scratch knowledge base of the bundled one plus FOLDER."""
    from reportqa import harness
    from reportqa.sandbox import Sandbox

    sandbox = Sandbox()
    try:
        outcome = harness.run(
            Path(args.ingest),
            settings.knowledge_dir,
            [Path(g) for g in args.gold],
            Path(args.index) if args.index else None,
            sandbox,
        )
    finally:
        sandbox.close()
    print(outcome.summary())
    if outcome.metadata:
        print(f"\nmetadata against {args.index}:")
        print(outcome.metadata_table())
        if args.misses:
            print("\n".join(outcome.mismatches))
    for gold, result in outcome.quality.items():
        print(f"\n{gold} (knowledge base: {settings.knowledge_dir} + {args.ingest}):")
        _print_quality(result, args.misses)
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from reportqa.db import kb as db_kb
    from reportqa.db.schema import connect, migrate

    if not settings.database_url:
        print("错误：请先设置 DATABASE_URL（postgresql://…）", file=sys.stderr)
        return 2
    with connect(settings.database_url) as conn:
        if args.db_command == "init":
            applied = migrate(conn)
            done = "、".join(str(v) for v in applied) if applied else "无（已是最新）"
            print(f"数据库结构已就绪；本次应用的迁移：{done}", file=sys.stderr)
        elif args.db_command == "import":
            folder = Path(args.folder) if args.folder else settings.knowledge_dir
            result = db_kb.import_folder(conn, folder, _actor())
            what = f"变更 #{result.seq}" if result.seq else "内容与数据库相同，未记录变更"
            print(
                f"已导入 {result.files} 个文件（{result.reports} 份报告，{result.passages} 段）："
                f"{what}",
                file=sys.stderr,
            )
        else:
            count = db_kb.export_folder(conn, Path(args.folder))
            print(f"已导出 {count} 个文件到 {args.folder}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """The Telegram bot (long polling, or a webhook server); the console without a token."""
    if settings.token is None:
        if getattr(args, "webhook_url", None):
            print("配置错误：webhook 模式需要设置 TELEGRAM_BOT_TOKEN", file=sys.stderr)
            return 2
        return cmd_console(settings)
    from telegram.error import InvalidToken

    from reportqa.sandbox import Sandbox
    from telegram_app import ALLOWED_UPDATES, build_application

    service, live, steps = _service(settings)
    sandbox = Sandbox() if settings.admin_ids else None  # only admins upload files
    app = build_application(settings, service, live, sandbox, steps)
    try:
        if getattr(args, "webhook_url", None):
            from urllib.parse import urlparse

            app.run_webhook(
                listen=args.listen,
                port=args.port,
                url_path=urlparse(args.webhook_url).path.lstrip("/"),
                webhook_url=args.webhook_url,
                secret_token=args.secret or settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=-1,  # Telegram unreachable at start: retry with backoff
            )
        else:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1)
    except InvalidToken:  # its message quotes the token: never print it
        print(
            "错误：Telegram 拒绝了 TELEGRAM_BOT_TOKEN（token 无效或已被撤销），"
            "请向 @BotFather 核对后重试",
            file=sys.stderr,
        )
        return 2
    finally:
        if sandbox is not None:
            sandbox.close()
    return 0


# ---------------------------------------------------------------- argument parsing


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bot.py", description="政府报告问答机器人")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot (console chat without a token)")
    run.add_argument("--webhook-url", help="serve a webhook at this public URL instead of polling")
    run.add_argument("--port", type=int, default=8443, help="webhook port (default 8443)")
    run.add_argument("--listen", default="0.0.0.0", help="webhook listen address")
    run.add_argument(
        "--secret",
        help="webhook secret token (X-Telegram-Bot-Api-Secret-Token); "
        "better TELEGRAM_WEBHOOK_SECRET, which no process list shows",
    )
    sub.add_parser("console", help="console chat")
    ask = sub.add_parser("ask", help="answer questions (arguments, or stdin one per line)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--top", type=_positive, default=3, help="results per question (default 3)")
    ask.add_argument("question", nargs="*")
    _ingest_parser(sub)
    sub.add_parser("rebuild", help="re-ingest every raw file in knowledge/sources")
    sub.add_parser("validate", help="check the knowledge base")
    rm = sub.add_parser("remove", help="remove a report (its raw file and its facts too)")
    rm.add_argument("report_id")
    _facts_parser(sub)
    hist = sub.add_parser("history", help="changes to the knowledge base, newest page first")
    hist.add_argument("--page", type=_positive, default=1, help="page (1 = the newest)")
    hist.add_argument("--limit", type=_positive, default=30, help="changes per page (30)")
    hist.add_argument("--all", action="store_true", help="every change kept in the audit log")
    sub.add_parser("undo", help="restore the version before the latest change")
    rep = sub.add_parser("reports", help="list the reports")
    rep.add_argument("--json", action="store_true")
    _eval_parser(sub)
    _db_parser(sub)
    return p


def _db_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="PostgreSQL (DATABASE_URL): init, import, export")
    dbs = db.add_subparsers(dest="db_command", required=True)
    dbs.add_parser("init", help="create or migrate the schema (safe to run again)")
    imp = dbs.add_parser("import", help="load a YAML knowledge folder (one change in history)")
    imp.add_argument("folder", nargs="?", help="default: KNOWLEDGE_DIR")
    exp = dbs.add_parser("export", help="write the knowledge base as a YAML folder")
    exp.add_argument("folder", help="an empty or new folder")


def _ingest_parser(sub: Any) -> None:
    about = (
        "Turn raw reports (.txt in any Chinese encoding, .docx, .html, .pdf with a text layer, or "
        "report .yaml) into knowledge/reports/<id>.yaml. What cannot be detected is stored as "
        "unknown and named with the flag to give; only unreadable files are refused. Flags apply "
        "to every PATH given."
    )
    ing = sub.add_parser("ingest", help="add or replace reports from raw files", description=about)
    ing.add_argument("paths", nargs="+", metavar="PATH", help="raw report files")
    ing.add_argument(
        "--agency", help="the issuing agency's full name (e.g. 舟山市科学技术局), if not detected"
    )
    ing.add_argument("--year", type=int, help="the year the report is about (e.g. 2021)")
    ing.add_argument("--title", help="the report's title, if not detected")
    ing.add_argument("--doc-type", help="document type, e.g. 政府工作报告, 工作总结, 工作要点")
    ing.add_argument("--id", help="report id (default: from the file name)")
    ing.add_argument("--dry-run", action="store_true", help="show what would be written")


def _facts_parser(sub: Any) -> None:
    facts = sub.add_parser("facts", help="curated facts: add, list, remove")
    fsub = facts.add_subparsers(dest="facts_command", required=True)
    fadd = fsub.add_parser("add", help="add a fact")
    fadd.add_argument("--question", required=True)
    fadd.add_argument("--answer", required=True)
    fadd.add_argument("--report", required=True, help="the report_id it comes from")
    fadd.add_argument("--alt", action="append", help="another phrasing (repeatable)")
    fadd.add_argument("--section")
    flist = fsub.add_parser("list", help="list the facts")
    flist.add_argument("--json", action="store_true")
    frm = fsub.add_parser("remove", help="remove a fact")
    frm.add_argument("fact_id")


def _eval_parser(sub: Any) -> None:
    about = (
        "hit@1, hit@3, MRR and answer accuracy per question style; with --ingest, on a scratch "
        "copy of the knowledge base plus a folder of raw reports (the knowledge folder itself is "
        "never written)"
    )
    ev = sub.add_parser("eval", help="score gold question sets", description=about)
    ev.add_argument("gold", nargs="+", help="gold question files (format: shared/qa/FORMAT.md)")
    ev.add_argument(
        "--ingest", metavar="FOLDER", help="ingest every raw report in FOLDER first, no flags"
    )
    ev.add_argument(
        "--index",
        metavar="INDEX.tsv",
        help="with --ingest: compare detected metadata with this index (file, agency, year, "
        "title, doc_type, script)",
    )
    ev.add_argument(
        "--verbose",
        dest="misses",
        action="store_true",
        help="list the misses and mismatches (debug logging is bot.py -v)",
    )


CHANGES = ("ingest", "remove", "facts", "undo")  # commands that change the knowledge base


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"配置错误：{e}", file=sys.stderr)
        return 2
    setup_logging(args.verbose, [*settings.secrets(), getattr(args, "secret", None) or ""])
    from reportqa.models import ReportQAError

    commands = {
        "ask": lambda: cmd_ask(args, settings),
        "ingest": lambda: cmd_ingest(args, settings),
        "rebuild": lambda: cmd_rebuild(settings),
        "remove": lambda: cmd_remove(args, settings),
        "facts": lambda: cmd_facts(args, settings),
        "history": lambda: cmd_history(args, settings),
        "undo": lambda: cmd_undo(settings),
        "validate": lambda: cmd_validate(settings),
        "reports": lambda: cmd_reports(args, settings),
        "eval": lambda: cmd_eval(args, settings),
        "console": lambda: cmd_console(settings),
        "run": lambda: cmd_run(args, settings),
        "db": lambda: cmd_db(args, settings),
        None: lambda: cmd_run(args, settings),
    }
    if args.command in CHANGES and not getattr(args, "dry_run", False):
        from reportqa.kb.open import remember_held

        # the change then parses only what it changes (the database's files, with DATABASE_URL)
        files = _store(settings).snapshot() if settings.database_url else None
        remember_held(settings.knowledge_dir, files)
    try:
        return commands[args.command]()
    except ReportQAError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
