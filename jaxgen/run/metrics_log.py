"""`metrics.jsonl` and TensorBoard events of a run, kept consistent across kills and resumes."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboardX import SummaryWriter

from jaxgen.run import files, parallel


class MetricsLog:
  """metrics.jsonl + TensorBoard events (tensorboardX: no TensorFlow needed): the scalars, the
  pictures of each evaluation as images, and, as text, the run's config (once, when the run
  starts from scratch) and notes such as the features a FID was computed on.

  A run resumed from step s first drops the records past s that a killed run had written (and a
  torn last line), so every step is in `metrics.jsonl` exactly once and in step order; records up
  to s are complete, because the loop logs and evaluates a step before it checkpoints it.

  In a multi-process run only process 0 writes (every process logs the same replicated metrics);
  on the others the log is empty and writes nothing.
  """

  def __init__(self, workdir: Path, resumed_step: int):
    self.path = workdir / "metrics.jsonl"
    self.writer = None
    self._texts: set[tuple[str, str]] = set()  # (tag, text) written by this log
    if not parallel.is_writer():
      return
    if self.path.exists():
      kept = [r for r in self._read() if r["step"] <= resumed_step]
      files.write_text_if_changed(self.path, "".join(json.dumps(r) + "\n" for r in kept))
    # TensorBoard hides the events at steps >= purge_step that an earlier, killed run wrote.
    purge = resumed_step + 1 if resumed_step else None
    # Event files are named by the second and the host: a resumed run that starts within the
    # second its previous run started would overwrite that run's file without a suffix of its own.
    self.writer = SummaryWriter(
      str(workdir / "tensorboard"), purge_step=purge, filename_suffix=f".from_{resumed_step or 0}"
    )
    config = workdir / "config.json"  # the loop records the config before it opens the log
    if not resumed_step and config.is_file():
      shown = json.dumps(json.loads(config.read_text()), indent=2, sort_keys=True)
      self.write_text("config", _code_block(shown), 0)

  def _read(self) -> list[dict[str, float]]:
    records = []
    for number, line in enumerate(self.path.read_text().splitlines(), 1):
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:  # only a kill mid-write tears a line; that step is redone
        print(f"{self.path}: dropping unreadable line {number} ({line[:40]!r})", file=sys.stderr)
    return records

  def write(self, step: int, scalars: dict[str, float]) -> None:
    """Appends one record to metrics.jsonl and the scalars to TensorBoard (the writer process)."""
    if self.writer is None:
      return
    with self.path.open("a") as f:
      f.write(json.dumps({"step": step, **scalars}) + "\n")
    for key, value in scalars.items():
      self.writer.add_scalar(key, value, step)

  def write_images(self, step: int, pictures: Mapping[str, Path]) -> None:
    """Each PNG of `pictures` (TensorBoard tag -> path) as an image at `step`."""
    if self.writer is None:
      return
    for tag, path in pictures.items():
      with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("RGB"))
      self.writer.add_image(tag, pixels, step, dataformats="HWC")

  def write_text(self, tag: str, text: str, step: int) -> None:
    """`text` (Markdown) under `tag` at `step`, unless this log wrote the same already."""
    if self.writer is None or (tag, text) in self._texts:
      return
    self._texts.add((tag, text))
    self.writer.add_text(tag, text, step)

  def records(self) -> list[dict[str, float]]:
    """The records written so far; none on processes that do not write."""
    return self._read() if self.writer is not None and self.path.exists() else []

  def close(self) -> None:
    """Flushes and closes the TensorBoard writer."""
    if self.writer is not None:
      self.writer.close()


def _code_block(text: str) -> str:
  """`text` verbatim in Markdown (TensorBoard renders text summaries as Markdown)."""
  return "".join(f"    {line}\n" for line in text.splitlines())
