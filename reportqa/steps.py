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
UPLOAD_TTL = 3600  # seconds an upload waits for its admin's decision
DIALOGUE_TTL = 3600  # seconds an admin dialogue stays open after its last step


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
    """Where admin work under way is kept. An upload is kept UPLOAD_TTL seconds, a dialogue
    DIALOGUE_TTL seconds after its last step: older ones are gone for every call."""

    def put_upload(self, token: str, upload: PendingUpload) -> None: ...

    def owner(self, token: str) -> int | None:
        """The admin who uploaded it (None: no such upload, or expired)."""
        ...

    def upload(self, token: str) -> PendingUpload | None: ...

    def take_upload(self, token: str) -> PendingUpload | None:
        """The upload, taken out: only one of several callers at once gets it."""
        ...

    def drop_upload(self, token: str) -> None: ...

    def expire(self) -> None:
        """Remove the expired uploads and dialogues (housekeeping)."""
        ...

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None: ...

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None: ...

    def advance(self, chat_id: int, user_id: int, before: Dialogue, after: Dialogue | None) -> bool:
        """Move an open dialogue from `before` to `after` (None: close it) if it is still at
        `before`: False when another message moved it meanwhile."""
        ...


class MemorySteps:
    """Admin work under way, in this process."""

    def __init__(self) -> None:
        self.uploads: dict[str, PendingUpload] = {}
        self.dialogues: dict[tuple[int, int], tuple[Dialogue, float]] = {}
        self._lock = threading.Lock()

    def put_upload(self, token: str, upload: PendingUpload) -> None:
        with self._lock:
            self.uploads[token] = upload

    def owner(self, token: str) -> int | None:
        upload = self.upload(token)
        return upload.admin if upload else None

    def upload(self, token: str) -> PendingUpload | None:
        with self._lock:
            self._expire()
            return self.uploads.get(token)

    def take_upload(self, token: str) -> PendingUpload | None:
        with self._lock:
            self._expire()
            return self.uploads.pop(token, None)

    def drop_upload(self, token: str) -> None:
        with self._lock:
            self.uploads.pop(token, None)

    def expire(self) -> None:
        with self._lock:
            self._expire()

    def dialogue(self, chat_id: int, user_id: int) -> Dialogue | None:
        with self._lock:
            self._expire()
            found = self.dialogues.get((chat_id, user_id))
            return dict(found[0]) if found else None

    def set_dialogue(self, chat_id: int, user_id: int, state: Dialogue | None) -> None:
        with self._lock:
            if state is None:
                self.dialogues.pop((chat_id, user_id), None)
            else:
                self.dialogues[(chat_id, user_id)] = (dict(state), time.time())

    def advance(self, chat_id: int, user_id: int, before: Dialogue, after: Dialogue | None) -> bool:
        with self._lock:
            found = self.dialogues.get((chat_id, user_id))
            if found is None or found[0] != before:
                return False
            if after is None:
                del self.dialogues[(chat_id, user_id)]
            else:
                self.dialogues[(chat_id, user_id)] = (dict(after), time.time())
            return True

    def _expire(self) -> None:
        now = time.time()
        for token, upload in list(self.uploads.items()):
            if now - upload.created > UPLOAD_TTL:
                del self.uploads[token]
        for key, (_, at) in list(self.dialogues.items()):
            if now - at > DIALOGUE_TTL:
                del self.dialogues[key]
