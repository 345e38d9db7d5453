"""`metrics.jsonl` and TensorBoard events of a run, kept consistent across kills and resumes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tensorboardX import SummaryWriter

from jaxgen.run import files, parallel


class MetricsLog:
  """metrics.jsonl + TensorBoard events (tensorboardX: no TensorFlow needed).

  A run resumed from step s first drops the records past s that a killed run had written (and a
  torn last line), so every step is in `metrics.jsonl` exactly once and in step order; records up
  to s are complete, because the loop logs and evaluates a step before it checkpoints it.

  In a multi-process run only process 0 writes (every process logs the same replicated metrics);
  on the others the log is empty and writes nothing.
  """

  def __init__(self, workdir: Path, resumed_step: int):
    self.path = workdir / "metrics.jsonl"
    self.writer = None
    if not parallel.is_writer():
      return
    if self.path.exists():
      kept = [r for r in self._read() if r["step"] <= resumed_step]
      files.write_text_if_changed(self.path, "".join(json.dumps(r) + "\n" for r in kept))
    # TensorBoard hides the events at steps >= purge_step that an earlier, killed run wrote.
    purge = resumed_step + 1 if resumed_step else None
    self.writer = SummaryWriter(str(workdir / "tensorboard"), purge_step=purge)

  def _read(self) -> list[dict[str, float]]:
    records = []
    for number, line in enumerate(self.path.read_text().splitlines(), 1):
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:  # only a kill mid-write tears a line; that step is redone
        print(f"{self.path}: dropping unreadable line {number} ({line[:40]!r})", file=sys.stderr)
    return records

  def write(self, step: int, scalars: dict[str, float]) -> None:
    if self.writer is None:
      return
    with self.path.open("a") as f:
      f.write(json.dumps({"step": step, **scalars}) + "\n")
    for key, value in scalars.items():
      self.writer.add_scalar(key, value, step)

  def records(self) -> list[dict[str, float]]:
    """The records written so far; none on processes that do not write."""
    return self._read() if self.writer is not None and self.path.exists() else []

  def close(self) -> None:
    if self.writer is not None:
      self.writer.close()
