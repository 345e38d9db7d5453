"""A thin layer over orbax: save every N steps, keep the last K, resume from a workdir.

The workdir also keeps the config of the run (`config.json`), so a re-run with a different config
in the same workdir is refused instead of silently mixing two experiments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

# Keys that may change between a run and its resumption without making it a different experiment.
RESUMABLE_KEYS = frozenset(
  {"num_steps", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints", "progress_bar"}
)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, dict):
    flat = {}
    for key, value in tree.items():
      flat.update(_flatten(value, f"{prefix}{key}."))
    return flat
  return {prefix[:-1]: tree}


def check_config_matches(workdir: Path, config_json: str) -> None:
  """Writes `config.json` on the first run; on later runs, refuses a different experiment."""
  path = Path(workdir) / "config.json"
  if not path.exists():
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_json)
    return
  saved = _flatten(json.loads(path.read_text()))
  current = _flatten(json.loads(config_json))
  differing = sorted(
    key
    for key in saved.keys() | current.keys()
    if key.split(".")[0] not in RESUMABLE_KEYS and saved.get(key) != current.get(key)
  )
  if differing:
    details = ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in differing[:8])
    raise ValueError(
      f"The workdir {workdir} holds a run of a different config ({details}). "
      "Use a new --workdir, or delete this one to start over."
    )
  path.write_text(config_json)  # record the resumable keys (e.g. a longer num_steps) of this run


class Checkpointer:
  """Saves and restores the train state under `workdir/checkpoints`."""

  def __init__(self, workdir: str | Path, keep: int):
    if keep < 1:
      raise ValueError(f"keep_checkpoints must be >= 1; got {keep}.")
    self.directory = Path(workdir).absolute() / "checkpoints"
    self.manager = ocp.CheckpointManager(
      self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    )

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(state))

  def restore(self, state_like: Any, step: int | None = None) -> Any:
    """Restores into the structure, shapes and shardings of `state_like`."""
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_like)
    try:
      return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except Exception as error:  # orbax raises several types for unreadable data
      raise ValueError(
        f"Could not restore the checkpoint of step {step} in {self.directory}: {error}. "
        "It is corrupt or from another model; delete that step's folder to fall back to the "
        "previous checkpoint, or use a new --workdir."
      ) from error

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()
