"""PNG figures of a run: sample grids, 2-D scatter plots over the true modes, metric curves.

Every figure of a run is titled with `run_title`: the run's name (its workdir's), its algorithm,
objective and data, so that pictures of several runs side by side say which is which.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from jaxgen import stabilisers
from jaxgen.run import files, parallel

# The value of the gaps between the images of an `image_grid` array: mid-grey, which shows
# between dark images and between white ones (a white gap melts into white images, a black one
# into black). The PNGs paint them `GAP_COLOUR`, which no grey image (e.g. an untrained
# generator's, all near 0) hides.
GAP = 0.5
GAP_COLOUR = (0.12, 0.47, 0.71)  # matplotlib's "tab:blue"
# A metric panel marks every point while it has this many or fewer, so that a lone evaluation
# shows; beyond, the markers shrink so that the line stays readable.
FEW_POINTS = 50
PANEL_COLUMNS = 3
MIN_RELATIVE_SPAN = 1e-3


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


def describe_run(config) -> str:
  """A run's algorithm, its objective where the config sets one (loss, penalty, reconstruction,
  prior, weight clip, the stabilisers it switches on) and its data, e.g. "gan (wasserstein loss,
  wgan_gp penalty) on ring8": two runs of one algorithm differ in these."""
  algorithm = config.algorithm
  parts = ["conditional"] if config.get("conditional") else []
  if algorithm.get("loss"):
    parts.append(f"{algorithm.loss} loss")
  for block in ("penalty", "reconstruction", "prior"):
    name = _block_name(algorithm.get(block))
    if name and name != "none":
      parts.append(f"{name} {block}")
  if algorithm.get("weight_clip"):
    parts.append(f"weight clip {algorithm.weight_clip:g}")
  parts += _stabilisers_on(algorithm.get("stabilisers"))
  objective = f" ({', '.join(parts)})" if parts else ""
  return f"{algorithm.name}{objective} on {config.data.name}"


def _block_name(block) -> str | None:
  """The name a config block gives: the block itself when a string (WAE's penalty), else its
  "name" entry; None when absent."""
  if block is None or isinstance(block, str):
    return block
  return block.get("name")


def _stabilisers_on(switches) -> list[str]:
  """The stabilisers `switches` (config.algorithm.stabilisers) sets away from their defaults."""
  if not switches:
    return []
  defaults = stabilisers.default_config()
  changed = [key for key in sorted(switches) if switches[key] != defaults.get(key, switches[key])]
  return [key if switches[key] is True else f"{key}={switches[key]:g}" for key in changed]


def run_title(config, workdir: str | Path | None) -> str:
  """The first line of every figure of a run: its name (the workdir's) and `describe_run`."""
  described = describe_run(config)
  return described if workdir is None else f"{Path(workdir).name}: {described}"


def image_grid(images: np.ndarray, num_columns: int | None = None, gap: float = GAP) -> np.ndarray:
  """Tiles [N, H, W, C] images in [-1, 1] into one [rows*H, cols*W, C] array in [0, 1], with
  one-pixel gaps of value `gap` around each image."""
  grid, gaps = _tiled(images, num_columns)
  grid[gaps] = gap
  return grid


def _tiled(images: np.ndarray, num_columns: int | None) -> tuple[np.ndarray, np.ndarray]:
  """The grid of `image_grid` and the mask [rows*H, cols*W] of its pixels that show no image:
  the gaps, and the cells past the last image."""
  images = np.asarray(images, np.float32)
  if images.ndim != 4:
    raise ValueError(f"image_grid wants [N, H, W, C] images; got shape {images.shape}.")
  n, h, w, c = images.shape
  cols = num_columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.zeros((rows * (h + 1) + 1, cols * (w + 1) + 1, c), np.float32)
  gaps = np.ones(grid.shape[:2], bool)
  for index, image in enumerate(np.clip((images + 1) / 2, 0, 1)):
    r, col = divmod(index, cols)
    cell = np.s_[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w]
    grid[cell], gaps[cell] = image, False
  return grid, gaps


@_writer_only
def save_image_grid(
  images: np.ndarray,
  path: str | Path,
  num_columns: int | None = None,
  title: str | None = None,
  row_labels: Sequence[str] = (),
) -> None:
  """`image_grid` of `images` as a PNG; `row_labels` names the grid's rows, top to bottom (e.g.
  a translation's input, translated and reconstructed rows)."""
  grid, gaps = _tiled(images, num_columns)
  colour = np.repeat(grid, 3, axis=-1) if grid.shape[-1] == 1 else grid[..., :3]
  colour[gaps] = GAP_COLOUR
  fig, ax = pyplot().subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1]))
  ax.imshow(colour, vmin=0, vmax=1)
  ax.axis("off")
  height = images.shape[1] + 1  # an image and its gap, in pixels of the grid
  for row, label in enumerate(row_labels):
    ax.text(-1, (row + 0.5) * height, label, ha="right", va="center", fontsize=8)
  if title:
    ax.set_title(title, fontsize=9)
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
      ax.set_title(title, fontsize=9)
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
    ax.set_title(title, fontsize=9)
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
  labels: Mapping[str, str] | None = None,
) -> None:
  """`curves_figure` as a PNG."""
  save_figure(curves_figure(records, keys, title, labels), path)


def curves_figure(
  records: Sequence[Mapping[str, float]],
  keys: Sequence[str],
  title: str,
  labels: Mapping[str, str] | None = None,
):
  """One panel per metric key against `step`, from logged records: each metric on its own scale
  (a FID of 274 beside a precision of 0.18 would flatten the precision), every point marked while
  there are few (a single evaluation shows). `<key>_std` beside `<key>` draws as its error bars.
  `labels`: a panel's title by key (default: the key). Returns the matplotlib figure."""
  labels = labels or {}
  spreads = {f"{key}_std" for key in keys}
  shown = [k for k in keys if k not in spreads and any(k in r for r in records)]
  columns = min(max(len(shown), 1), PANEL_COLUMNS)
  rows = math.ceil(max(len(shown), 1) / columns)
  fig, axes = pyplot().subplots(
    rows, columns, figsize=(4.2 * columns, 2.8 * rows + 0.6), squeeze=False
  )
  for ax in axes.flat[len(shown) :]:
    ax.axis("off")
  if not shown:
    axes[0, 0].text(0.5, 0.5, "nothing logged", ha="center", va="center")
  for ax, key in zip(axes.flat, shown, strict=False):
    _draw_curve(ax, records, key, f"{key}_std" if f"{key}_std" in keys else None)
    ax.set_title(labels.get(key, key), fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=8)
    _readable_axes(ax)
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  return fig


def _draw_curve(ax, records: Sequence[Mapping[str, float]], key: str, spread: str | None) -> None:
  """`key` against step on `ax`, with error bars from `spread` where a record has it."""
  kept = [r for r in records if key in r]
  steps = np.array([r["step"] for r in kept], np.float64)
  values = np.array([r[key] for r in kept], np.float64)
  errors = np.array([r.get(spread, np.nan) for r in kept], np.float64)
  style = {"marker": "o", "markersize": 4 if len(kept) <= FEW_POINTS else 1.5, "linewidth": 1}
  if spread is not None and np.isfinite(errors).any():
    ax.errorbar(steps, values, yerr=np.nan_to_num(errors), capsize=3, **style)
  else:
    ax.plot(steps, values, **style)
  if not np.isfinite(values).any():  # NaN draws nothing: say so rather than show an empty panel
    ax.text(0.5, 0.5, "no finite value (NaN)", transform=ax.transAxes, ha="center", fontsize=8)
    ax.set_xlim(steps.min() - 1, steps.max() + 1)  # still the steps where it was logged


def _readable_axes(ax) -> None:
  """Whole steps on the x axis; y ticks as plain numbers (no offset such as "1e-6+1" over the
  title), and a y range of at least `MIN_RELATIVE_SPAN` of the values' size, so that noise in the
  seventh digit (an Inception Score of 1 +- 4e-6) is not drawn as a change."""
  low, high = ax.get_xlim()
  if high - low < 2:  # one step: widen to whole steps around it, so the ticks can be integers
    ax.set_xlim((low + high) / 2 - 1, (low + high) / 2 + 1)
  ax.xaxis.set_major_locator(pyplot().MaxNLocator(integer=True))
  ax.ticklabel_format(axis="y", useOffset=False)
  low, high = ax.get_ylim()
  centre, span = (low + high) / 2, MIN_RELATIVE_SPAN * abs(low + high) / 2
  if high - low < span:
    ax.set_ylim(centre - span / 2, centre + span / 2)
