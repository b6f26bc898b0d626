"""Files: getFile hands out a ``file_path``, and ``/file/bot<token>/<file_path>`` serves the
bytes (the bot downloads what users send; it uploads nothing)."""

from __future__ import annotations

from tests.botapi.calls import bad
from tests.botapi.entities import JSONDict
from tests.botapi.state import StoredFile, StubState

MAX_DOWNLOAD = 20 * 1024 * 1024


class FileMethods(StubState):
    """getFile (a Bot API method, lock held) and the lookup behind file downloads."""

    def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD:
            raise bad("file is too big")
        if stored.file_path is None:
            ext = ""
            if stored.file_name and "." in stored.file_name:
                ext = "." + stored.file_name.rsplit(".", 1)[-1]
            stored.file_path = f"documents/file_{len(self._file_paths)}{ext}"
            self._file_paths[stored.file_path] = stored.file_id
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _file_at(self, token: str, file_path: str) -> StoredFile | None:
        """The file a download URL names, or None (wrong token or unknown path)."""
        with self._lock:
            file_id = self._file_paths.get(file_path) if token == self.token else None
            return self._files.get(file_id) if file_id else None
