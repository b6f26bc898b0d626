"""Admin work under way: uploads waiting for 确认入库, and each admin's open dialogue (/addfact
step by step, the correction of an upload's field).

`MemorySteps` keeps them in this process (the default). With DATABASE_URL every worker shares
`reportqa.db.state.PgSteps`, so the admin's next message or button press may reach any worker.
An upload is taken out atomically (`take_upload`): two presses of 确认入库, on two workers,
save it once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from reportqa.kb import schema
from reportqa.kb.changes import Prepared

Dialogue = dict[str, Any]  # {"kind": "addfact" | "editing", …}: JSON, so any worker can read it


@dataclass
class PendingUpload:
    """An upload waiting for 确认入库: its preview, the bytes, and who uploaded it."""

    prepared: Prepared
    data: bytes
    name: str
    admin: int
    flags: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """All but the bytes (kept beside it), as JSON."""
        p = self.prepared
        return {
            "name": self.name,
            "admin": self.admin,
            "flags": self.flags,
            "prepared": {
                "report": schema.report_to_dict(p.report),
                "needs_flag": p.needs_flag,
                "raw": p.raw is not None,  # the raw file is the upload's bytes
                "source_name": p.source_name,
                "flags": p.flags,
            },
        }

    @classmethod
    def from_json(cls, record: dict[str, Any], data: bytes, created: float) -> PendingUpload:
        p = record["prepared"]
        prepared = Prepared(
            schema.report_from_dict(p["report"]),
            list(p["needs_flag"]),
            data if p["raw"] else None,
            p["source_name"],
            dict(p["flags"]),
        )
        return cls(prepared, data, record["name"], int(record["admin"]), record["flags"], created)


class Steps(Protocol):
    def put_upload(self, token: str, upload: PendingUpload) -> None: ...

    def upload(self, token: str) -> PendingUpload | None: ...

    def take_upload(self, token: str) -> PendingUpload | None: ...

    def expire_uploads(self, ttl: float) -> None: ...

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None: ...

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None: ...


class MemorySteps:
    """Admin work under way, in this process."""

    def __init__(self) -> None:
        self.uploads: dict[str, PendingUpload] = {}
        self.dialogues: dict[tuple[int, int], Dialogue] = {}
        self._lock = threading.Lock()

    def put_upload(self, token: str, upload: PendingUpload) -> None:
        with self._lock:
            self.uploads[token] = upload

    def upload(self, token: str) -> PendingUpload | None:
        with self._lock:
            return self.uploads.get(token)

    def take_upload(self, token: str) -> PendingUpload | None:
        with self._lock:
            return self.uploads.pop(token, None)

    def expire_uploads(self, ttl: float) -> None:
        now = time.time()
        with self._lock:
            for token, upload in list(self.uploads.items()):
                if now - upload.created > ttl:
                    del self.uploads[token]

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None:
        with self._lock:
            return self.dialogues.get((chat_id, user_id))

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None:
        with self._lock:
            if state is None:
                self.dialogues.pop((chat_id, user_id), None)
            else:
                self.dialogues[(chat_id, user_id)] = state
