"""Where IO managers put files: a local folder or any fsspec URL, written atomically.

Local writes go to a temporary name beside the target and are renamed into place (atomic on POSIX).
Remote writes (s3://, gs://, memory://...) go to a temporary key and are moved onto the target;
object stores publish an object only once its upload completes, so no half file is ever visible.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def is_url(location: str | Path) -> bool:
    text = str(location)
    return "://" in text and not text.startswith("file://")


class LocalFiles:
    """A folder on this machine."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(str(root).removeprefix("file://"))
        self._made: set[Path] = set()
        self.filesystem = None

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def write_atomic(self, target: str, write: Callable[[IO[bytes]], None]) -> None:
        path = Path(target)
        self._ensure(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            try:
                handle = open(tmp, "wb")
            except FileNotFoundError:  # the folder was removed since this process made it
                self._made.discard(path.parent)
                self._ensure(path.parent)
                handle = open(tmp, "wb")
            with handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _ensure(self, folder: Path) -> None:
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

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


class RemoteFiles:
    """Any fsspec filesystem, addressed by URL."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec  # only when a URL is configured

        self.filesystem, self.root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = self.root.rstrip("/")
        self.protocol = url.split("://", 1)[0]

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def write_atomic(self, target: str, write: Callable[[IO[bytes]], None]) -> None:
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        try:
            with self.filesystem.open(tmp, "wb") as handle:
                write(handle)
            self.filesystem.mv(tmp, target)
        except BaseException:
            if self.filesystem.exists(tmp):
                self.filesystem.rm(tmp)
            raise

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
