"""Settings from the environment (and an optional .env file): the only reader of os.environ."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_KNOWLEDGE = Path(__file__).resolve().parent / "knowledge"
DEFAULT_STATE = Path(__file__).resolve().parent / "data"


WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path
    token: str | None = None
    admin_ids: frozenset[int] = frozenset()
    api_base_url: str = "https://api.telegram.org"
    state_dir: Path = DEFAULT_STATE
    flood_limit: float = 30.0  # messages a second sent to Telegram; 0 turns the limiter off
    database_url: str | None = None  # postgresql://… : PostgreSQL for many workers
    webhook_secret: str | None = None  # what Telegram sends with each update to the webhook

    def __repr__(self) -> str:  # never show the token, nor the database's password
        return (
            f"Settings(knowledge_dir={self.knowledge_dir!s}, "
            f"token={'***' if self.token else None}, "
            f"admin_ids={sorted(self.admin_ids)}, api_base_url={self.api_base_url}, "
            f"state_dir={self.state_dir!s}, flood_limit={self.flood_limit}, "
            f"database_url={'***' if self.database_url else None}, "
            f"webhook_secret={'***' if self.webhook_secret else None})"
        )

    def secrets(self) -> list[str]:
        """What must never reach a log: the token, the webhook secret, the database password."""
        found = [self.token, self.webhook_secret]
        if self.database_url:  # as written (percent-encoded) and as libpq reads it
            found.append(urlsplit(self.database_url).password)
            import psycopg
            from psycopg.conninfo import conninfo_to_dict

            with contextlib.suppress(psycopg.Error):  # a malformed URL: its own error comes later
                found.append(str(conninfo_to_dict(self.database_url).get("password") or ""))
        return list(dict.fromkeys(s for s in found if s))


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from `env` (default: os.environ after reading ./.env if present)."""
    if env is None:
        try:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        except ImportError:  # pragma: no cover - python-dotenv is in requirements.txt
            pass
        env = dict(os.environ)
    knowledge = Path(env.get("KNOWLEDGE_DIR") or DEFAULT_KNOWLEDGE).expanduser()
    token = (env.get("TELEGRAM_BOT_TOKEN") or "").strip() or None
    if token is not None and (":" not in token or not token.split(":", 1)[0].isdigit()):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN 格式不对：应形如 123456789:ABC…（向 @BotFather 获取）"
        )
    admins: set[int] = set()
    for part in (env.get("BOT_ADMIN_IDS") or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ConfigError(f"BOT_ADMIN_IDS 里有无效的用户 ID：{part!r}（应为逗号分隔的数字）")
        admins.add(int(part))
    base = (env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigError("TELEGRAM_API_BASE_URL 必须以 http:// 或 https:// 开头")
    state = Path(env.get("BOT_STATE_DIR") or DEFAULT_STATE).expanduser()
    try:
        flood = float(env.get("TELEGRAM_FLOOD_LIMIT") or 30)
    except ValueError:
        raise ConfigError("TELEGRAM_FLOOD_LIMIT 必须是数字（每秒消息数，0 表示不限制）") from None
    if flood < 0:
        raise ConfigError("TELEGRAM_FLOOD_LIMIT 不能为负数")
    database = (env.get("DATABASE_URL") or "").strip() or None
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        raise ConfigError("DATABASE_URL 必须以 postgresql:// 开头（PostgreSQL 连接串）")
    secret = (env.get("TELEGRAM_WEBHOOK_SECRET") or "").strip() or None
    if secret is not None and not WEBHOOK_SECRET.fullmatch(secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET 只能由 1–256 个字母、数字、_ 和 - 组成")
    return Settings(knowledge, token, frozenset(admins), base, state, flood, database, secret)
