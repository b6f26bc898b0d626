"""reportqa: question answering over Chinese government reports (engine only, no Telegram)."""
