"""Where IO managers put files: a local folder or any fsspec URL, written atomically and hashed.

Local writes go to a hidden temporary name beside the target (`.<name>.<host>.<pid>.<thread>.tmp`) and
are renamed into place (atomic on POSIX). A writer that is SIGKILLed leaves its temporary file behind;
the next write of the same target removes it once its writer is gone (see `_abandoned`). Remote writes
(s3://, gs://, memory://...) go to a temporary key and are moved onto the target; object stores
publish an object only once its upload completes, so no half file is ever visible.

`write_atomic(target, write)` calls `write(sink)` with what pyarrow writes to fastest: a local path
(pyarrow's native file) or a file object. It returns (bytes, SHA-256) of what was published.
`write_bytes_atomic(target, payload)` does the same for bytes already in memory (pickles).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from orchestrator.io.digest import FileFollower, HashingFile

Buffer = bytes | memoryview | Any
"""Bytes in memory: bytes, or anything with the buffer protocol (a pyarrow Buffer)."""
Sink = str | IO[bytes]
"""A local path (the writer opens it with truncation) or an open binary file object."""

HOST = socket.gethostname()
STALE_SECONDS = 24 * 3600
"""A temporary file whose writer cannot be checked (another host) is removed after this long unchanged."""


def is_url(location: str | Path) -> bool:
    text = str(location)
    return "://" in text and not text.startswith("file://")


class LocalFiles:
    """A folder on this machine."""

    filesystem = None
    local = True

    def __init__(self, root: str | Path) -> None:
        self.root = Path(str(root).removeprefix("file://"))

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def write_atomic(self, target: str, write: Callable[[Sink], None]) -> tuple[int, str]:
        path = Path(target)
        _sweep(path)
        tmp = _temporary(path)
        follower = None
        try:
            tmp.write_bytes(b"")  # exists before the follower opens it; the writer truncates it again
            follower = FileFollower(str(tmp))
            write(str(tmp))
            written = follower.finish(tmp.stat().st_size)
            os.replace(tmp, path)
        except BaseException:
            if follower is not None:
                follower.stop()
            tmp.unlink(missing_ok=True)
            raise
        return written

    def write_bytes_atomic(self, target: str, payload: Buffer) -> tuple[int, str]:
        """Bytes in memory are hashed as they are: no file follower (a thread per write)."""
        path = Path(target)
        _sweep(path)
        _replace(path, payload)
        return memoryview(payload).nbytes, hashlib.sha256(payload).hexdigest()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def remove(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def read_bytes(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def listdir(self, folder: str) -> list[str]:
        try:
            return sorted(os.listdir(folder))
        except FileNotFoundError:
            return []


def atomic_write_bytes(path: Path, data: Buffer) -> None:
    """Write `data` to the local file `path` whole or not at all (a temp file beside it, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _replace(path, data)


def _replace(path: Path, data: Buffer) -> None:
    tmp = _temporary(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{HOST}.{os.getpid()}.{threading.current_thread().ident}.tmp")


def _sweep(target: Path) -> None:
    """Make the target's folder if missing; remove temporary files of `target` whose writer is gone."""
    prefix = f".{target.name}."
    try:
        with os.scandir(target.parent) as entries:
            stale = [e.path for e in entries
                     if e.name.startswith(prefix) and e.name.endswith(".tmp")
                     and _abandoned(e.name[len(prefix):-len(".tmp")], e)]
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        return
    for path in stale:
        Path(path).unlink(missing_ok=True)


def _abandoned(owner: str, entry: os.DirEntry[str]) -> bool:
    """True when the writer named by `owner` ("host.pid.thread") is no longer writing.

    On this host: its process is gone, or (when it is this process) its thread is. A file of another
    host, or of an older naming scheme, is abandoned once unchanged for STALE_SECONDS.
    """
    parts = owner.rsplit(".", 2)  # a host name may contain dots
    if len(parts) == 3 and parts[0] == HOST and parts[1].isdigit() and parts[2].isdigit() and os.name == "posix":
        pid, thread = int(parts[1]), int(parts[2])
        if pid == os.getpid():
            return thread not in {t.ident for t in threading.enumerate()}
        return not _running(pid)
    try:
        return time.time() - entry.stat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class RemoteFiles:
    """Any fsspec filesystem, addressed by URL."""

    local = False

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec  # only when a URL is configured

        self.filesystem, self.root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = self.root.rstrip("/")
        self.protocol = url.split("://", 1)[0]

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def write_atomic(self, target: str, write: Callable[[Sink], None]) -> tuple[int, str]:
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        try:
            with self.filesystem.open(tmp, "wb") as handle:
                sink = HashingFile(handle)
                write(sink)
            self.filesystem.mv(tmp, target)
        except BaseException:
            if self.filesystem.exists(tmp):
                self.filesystem.rm(tmp)
            raise
        return sink.size, sink.digest.hexdigest()

    def write_bytes_atomic(self, target: str, payload: Buffer) -> tuple[int, str]:
        return self.write_atomic(target, lambda sink: sink.write(payload))

    def exists(self, path: str) -> bool:
        return bool(self.filesystem.exists(path))

    def remove(self, path: str) -> None:
        if self.filesystem.exists(path):
            self.filesystem.rm(path)

    def read_bytes(self, path: str) -> bytes:
        return self.filesystem.cat_file(path)

    def listdir(self, folder: str) -> list[str]:
        if not self.filesystem.exists(folder):
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.filesystem.ls(folder, detail=False))


def files_at(location: str | Path, **storage_options: Any) -> LocalFiles | RemoteFiles:
    return RemoteFiles(str(location), **storage_options) if is_url(location) else LocalFiles(location)
