"""Content hashes of written files (the data version): SHA-256 of exactly the bytes stored.

A local file is hashed by `FileFollower`, a thread that reads it while the writer appends to it, so
the hash runs beside the writing on another core and costs no second pass afterwards. A file object
(fsspec) is hashed by `HashingFile`, which sees every byte on its way through.
"""

from __future__ import annotations

import hashlib
import threading
from typing import IO, Any

from orchestrator.errors import IOManagerError

CHUNK = 4 << 20
POLL_SECONDS = 0.005


class FileFollower:
    """Hashes a local file from its start while another thread appends to it.

    Sound because the writers used with it only append (pyarrow writes Parquet through an output
    stream, which cannot seek): bytes below the current end never change. `finish()` is called once
    the writer has closed the file; it reads the rest and checks the byte count against the size.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.digest = hashlib.sha256()
        self.size = 0
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._follow, name="orch-file-hash", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        try:
            with open(self.path, "rb", buffering=0) as handle:
                while True:
                    done = self._done.is_set()  # read before reading: after done, reads reach the end
                    n = handle.readinto(buffer)
                    if n:
                        self.digest.update(view[:n])  # releases the GIL
                        self.size += n
                    elif done:
                        return
                    else:
                        self._done.wait(POLL_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._error = exc

    def finish(self, final_size: int) -> tuple[int, str]:
        """(bytes, hex digest) of the whole file, once its writer has closed it."""
        self.stop()
        if self._error is not None:
            raise self._error
        if self.size != final_size:
            raise IOManagerError(f"{self.path} changed while being hashed ({self.size} of {final_size} bytes).")
        return self.size, self.digest.hexdigest()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class HashingFile:
    """A writable file object that hashes what goes through it (for remote files)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        self.handle.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.handle.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
