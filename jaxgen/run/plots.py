"""PNG figures of a run: sample grids, 2-D scatter plots over the true modes, loss curves."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from jaxgen.run import files, parallel


def pyplot():
  """matplotlib.pyplot on the file-only Agg backend, imported on first use: it costs 0.5 s at
  start-up, which every restart of a preempted run would pay."""
  import matplotlib  # noqa: PLC0415

  matplotlib.use("Agg")  # files only; no display on training machines
  import matplotlib.pyplot as plt  # noqa: PLC0415

  return plt


def _writer_only(save):
  """Makes a `save_*` function do nothing on processes other than 0 of a multi-process run: the
  processes share the workdir, and every one of them evaluates the same state."""

  @functools.wraps(save)
  def save_on_process_0(*args, **kwargs) -> None:
    if parallel.is_writer():
      save(*args, **kwargs)

  return save_on_process_0


def save_figure(fig, path: str | Path) -> None:
  """Writes `fig` as a PNG by temp file + rename, so a kill never leaves a torn picture."""
  with files.atomic_path(path) as temporary:
    fig.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
  pyplot().close(fig)


def image_grid(images: np.ndarray, num_columns: int | None = None) -> np.ndarray:
  """Tiles [N, H, W, C] images in [-1, 1] into one [rows*H, cols*W, C] array in [0, 1]."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid wants [N, H, W, C] images; got shape {images.shape}.")
  n, h, w, c = images.shape
  cols = num_columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), np.float32)
  for index, image in enumerate((images + 1) / 2):
    r, col = divmod(index, cols)
    grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = image
  return np.clip(grid, 0, 1)


@_writer_only
def save_image_grid(
  images: np.ndarray, path: str | Path, num_columns: int | None = None, title: str | None = None
) -> None:
  grid = image_grid(images, num_columns)
  fig, ax = pyplot().subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1]))
  ax.imshow(grid.squeeze(-1) if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1)
  ax.axis("off")
  if title:
    ax.set_title(title)
  save_figure(fig, path)


@_writer_only
def save_scatter(
  samples: np.ndarray, path: str | Path, centers: np.ndarray | None = None, title: str | None = None
) -> None:
  """Generated 2-D samples (blue) over the true mode centres (red crosses); 1-D samples as a
  density histogram."""
  if samples.shape[-1] == 1:
    fig, ax = pyplot().subplots(figsize=(5, 3))
    ax.hist(samples[:, 0], bins=60, density=True, alpha=0.6, label="generated")
    ax.set_xlabel("x")
    if title:
      ax.set_title(title)
    save_figure(fig, path)
    return
  fig, ax = pyplot().subplots(figsize=(5, 5))
  ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="generated")
  if centers is not None:
    ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="red", s=40, label="modes")
    low, high = frame_around(centers)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    outside = outside_note(samples, low, high)
    if outside:  # the frame fits the modes; say what it leaves out rather than hide it
      ax.text(0.02, 0.02, outside, transform=ax.transAxes, fontsize=7, color="darkred")
  ax.set_aspect("equal")
  ax.legend(loc="upper right", fontsize=8)
  if title:
    ax.set_title(title)
  save_figure(fig, path)


def frame_around(centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The plot frame (low, high corners) around the mode centres, with a quarter of their span
  as margin."""
  pad = 0.25 * (centers.max() - centers.min() + 1e-6)
  return centers.min(axis=0) - pad, centers.max(axis=0) + pad


def outside_note(samples: np.ndarray, low: np.ndarray, high: np.ndarray) -> str:
  """ "" when every sample lies in the frame [low, high]; else how many do not and how far the
  farthest lies from the frame's centre (non-finite samples are counted apart)."""
  finite = np.all(np.isfinite(samples), axis=1)
  inside = finite & np.all((samples >= low) & (samples <= high), axis=1)
  if inside.all():
    return ""
  note = f"{np.count_nonzero(~inside)} of {len(samples)} samples lie outside this frame"
  away = samples[finite & ~inside]
  if len(away):
    reach = np.linalg.norm(away - (low + high) / 2, axis=1).max()
    note += f" (the farthest {reach:.3g} from its centre)"
  if not finite.all():
    note += f"; {np.count_nonzero(~finite)} are NaN/inf"
  return note


@_writer_only
def save_curves(
  records: Sequence[Mapping[str, float]],
  keys: Sequence[str],
  path: str | Path,
  title: str = "losses",
) -> None:
  """One line per metric key against `step`, from logged records."""
  fig, ax = pyplot().subplots(figsize=(7, 4))
  for key in keys:
    points = [(r["step"], r[key]) for r in records if key in r]
    if points:
      steps, values = zip(*points, strict=True)
      ax.plot(steps, values, label=key)
  ax.set_xlabel("step")
  ax.set_title(title)
  ax.legend(fontsize=8)
  save_figure(fig, path)
