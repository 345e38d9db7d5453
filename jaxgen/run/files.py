"""Files written so that a kill at any moment leaves either the old or the new content, never a
torn one: write a temporary file beside the target, flush it to disk, then rename it over the
target (a rename within one directory is atomic on POSIX file systems)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
  """Yields a temporary path beside `path`; when the block ends without error, it replaces
  `path` in one rename. On an error the temporary file is removed and `path` is untouched.

  For writers that want a file name (e.g. `matplotlib.figure.Figure.savefig`):

    with atomic_path("losses.png") as tmp:
      fig.savefig(tmp, format="png")
  """
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
  os.close(descriptor)
  temporary = Path(name)
  try:
    yield temporary
    with open(temporary, "rb+") as f:  # the bytes reach the disk before the rename is visible
      os.fsync(f.fileno())
    os.replace(temporary, path)
  finally:
    temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, content: bytes) -> None:
  """Replaces `path` with `content` atomically (see the module docstring)."""
  with atomic_path(path) as temporary:
    temporary.write_bytes(content)


def atomic_write_text(path: str | Path, text: str) -> None:
  """Replaces `path` with `text` (UTF-8) atomically."""
  atomic_write_bytes(path, text.encode())


def write_text_if_changed(path: str | Path, text: str) -> bool:
  """Writes `text` atomically unless `path` already holds exactly it; returns whether it wrote.

  Not rewriting an unchanged file means a kill during a restart cannot touch it at all.
  """
  path = Path(path)
  try:
    if path.read_bytes() == text.encode():
      return False
  except FileNotFoundError:
    pass
  atomic_write_text(path, text)
  return True
