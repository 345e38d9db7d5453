"""Two unpaired image domains from one data set, for image-to-image translation (CycleGAN).

The base set's training examples are split once, by a fixed permutation, into two disjoint halves:
domain A is the first half as it is, domain B the second half under a fixed transformation the
model is not told (`TRANSFORMS`). No image of B is ever the transform of an image of A, so no pair
(a, T(a)) is ever seen in training (Zhu et al. 2017, sec. 1: unpaired data). The held-out split is
halved the same way for evaluation, where `inverse_transform` maps a translation G(a) back to A's
look so the base set's classifier can read it.

A batch carries both domains, each drawn from its own endless stream of epoch permutations of its
half (a pure function of (seed, step), as every jaxgen data set): "image_a", "label_a",
"image_b", "label_b". The labels are for evaluation only; CycleGAN never reads them. "variant_b"
says which variant of a one-to-many transform made each B image (0 for a one-to-one transform).

Transforms (x in [-1, 1], an [N, H, W, C] batch of square images):
  "invert": -x (colour inversion);  "transpose": x^T (swap height and width);
  "invert_transpose": (-x)^T, the default;
  "invert_or_invert_transpose": one-to-many, each B image is -x or (-x)^T at random (p = 1/2,
  drawn per image from the data seed): B has two variants for every digit, A one.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxgen.data import tfds_source
from jaxgen.data.base import (
  Batch,
  Dataset,
  FiniteDataset,
  declare,
  eval_indices,
  rng_for,
  stream_indices,
)
from jaxgen.data.digits import check_size, digits

# Random streams of this module (jaxgen.data.base uses 0..3): the split into halves, B's own batch
# order (A's is base's PERMUTATION_STREAM), B's variant draws.
SPLIT_STREAM, DOMAIN_B_STREAM, VARIANT_STREAM = 10, 11, 12
SPLIT_SEED = 0  # the halves are fixed: every run and seed sees the same two domains

BASES = ("digits", "mnist", "fashion_mnist")


def _invert(x: np.ndarray) -> np.ndarray:
  return -x  # colour inversion on [-1, 1]: v -> -v


def _transpose(x: np.ndarray) -> np.ndarray:
  return np.swapaxes(x, 1, 2)  # [N, H, W, C] -> [N, W, H, C]


# name -> the variants of the transform (one: one-to-one). Each variant is an involution, so it is
# its own inverse (`inverse_transform`).
TRANSFORMS = {
  "invert": (_invert,),
  "transpose": (_transpose,),
  "invert_transpose": (lambda x: _transpose(_invert(x)),),
  "invert_or_invert_transpose": (_invert, lambda x: _transpose(_invert(x))),
}


def check_transform(name: str) -> str:
  if name not in TRANSFORMS:
    raise ValueError(f"Unknown transform {name!r}; choose one of {sorted(TRANSFORMS)}.")
  return name


def apply_transform(name: str, images: np.ndarray, variants: np.ndarray) -> np.ndarray:
  """T(x) of `images`, each under the variant `variants[i]` of transform `name`."""
  out = np.empty_like(images)
  for variant, transform in enumerate(TRANSFORMS[check_transform(name)]):
    chosen = variants == variant
    out[chosen] = transform(images[chosen])
  return out


def inverse_transform(name: str, images: np.ndarray, variant: int = 0) -> np.ndarray:
  """T_variant^{-1}: every variant is an involution (inversion, transpose and their composition
  commute and square to the identity), so T^{-1} = T."""
  return TRANSFORMS[check_transform(name)][variant](images)


def split_halves(num_examples: int) -> tuple[np.ndarray, np.ndarray]:
  """The indices of domain A's and domain B's halves of `num_examples`: disjoint, fixed."""
  order = rng_for(SPLIT_STREAM, SPLIT_SEED, num_examples).permutation(num_examples)
  half = num_examples // 2
  return np.sort(order[:half]), np.sort(order[half : 2 * half])


class UnpairedDomains(Dataset):
  """Domains A and B of `base` (a `FiniteDataset`); see the module docstring."""

  def __init__(self, base: FiniteDataset, transform: str = "invert_transpose"):
    self.transform = check_transform(transform)
    height, width, channels = base.example_shape
    if "transpose" in transform and height != width:
      raise ValueError(f"transform {transform!r} needs square images; got {height} x {width}.")
    self.base = base
    self.name = "unpaired"
    self.example_shape = tuple(base.example_shape)
    self.num_classes = base.num_classes
    self.num_variants = len(TRANSFORMS[transform])
    self.indices_a, self.indices_b = split_halves(base.num_examples)

  @property
  def num_examples(self) -> int:
    """Examples per domain (one epoch of either stream)."""
    return len(self.indices_a)

  def variants(self, seed: int, indices: np.ndarray) -> np.ndarray:
    """The variant of each B example at `indices` (into B's half): fixed per (seed, example)."""
    if self.num_variants == 1:
      return np.zeros(len(indices), np.int32)
    draws = rng_for(VARIANT_STREAM, seed).integers(0, self.num_variants, self.num_examples)
    return draws[indices].astype(np.int32)

  def _domain_b(self, base_batch: Batch, variants: np.ndarray) -> Batch:
    images = apply_transform(self.transform, base_batch["x"], variants)
    return {"image_b": images, "label_b": base_batch["y"], "variant_b": variants}

  def _rows(self, seed: int, step: int, batch_size: int, start: int, stop: int) -> Batch:
    positions = step * batch_size + np.arange(start, stop, dtype=np.int64)
    rows_a = stream_indices(seed, positions, self.num_examples)
    # B's own stream: a different permutation, so no A example is tied to a B example.
    rows_b = _stream_b(seed, positions, self.num_examples)
    a = self.base._training_examples(self.indices_a[rows_a])  # noqa: SLF001 — same package
    b = self.base._training_examples(self.indices_b[rows_b])  # noqa: SLF001
    return {"image_a": a["x"], "label_a": a["y"], **self._domain_b(b, self.variants(seed, rows_b))}

  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """Held-out A and B: the base's held-out split halved as the training split (`num` of each,
    drawn from `seed`; None: all of each half). B's variants are drawn from `seed`."""
    held = self.base.eval_data()
    halves = split_halves(len(held["y"]))
    out = {}
    for domain, half in zip("ab", halves, strict=True):
      picked = half[eval_indices(num, seed, len(half))]
      out[f"image_{domain}"], out[f"label_{domain}"] = held["x"][picked], held["y"][picked]
    draws = rng_for(VARIANT_STREAM, seed, 1).integers(0, self.num_variants, len(out["label_b"]))
    variants = draws.astype(np.int32) if self.num_variants > 1 else np.zeros_like(draws, np.int32)
    out.update(self._domain_b({"x": out["image_b"], "y": out["label_b"]}, variants))
    return out


def _stream_b(seed: int, positions: np.ndarray, num_examples: int) -> np.ndarray:
  epochs, offsets = np.divmod(positions, num_examples)
  indices = np.empty_like(positions)
  for epoch in np.unique(epochs):
    in_epoch = epochs == epoch
    order = _permutation_b(seed, int(epoch), num_examples)
    indices[in_epoch] = order[offsets[in_epoch]]
  return indices


@functools.lru_cache(maxsize=8)
def _permutation_b(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  return rng_for(DOMAIN_B_STREAM, seed, epoch).permutation(num_examples)


def _stand_in(example_shape, batch_size: int) -> dict[str, np.ndarray]:
  """Zeros shaped as one batch: two domains and B's transform variant."""
  images = np.zeros((batch_size, *example_shape), np.float32)
  labels = np.zeros((batch_size,), np.int32)
  return {"image_a": images, "label_a": labels, "image_b": images, "label_b": labels} | {
    "variant_b": labels
  }


def _facts(base="digits", transform="invert_transpose", size=None, **_locations):
  return facts(base, size, transform)


@declare(facts=_facts, stand_in=_stand_in)
def unpaired(
  base: str = "digits",
  transform: str = "invert_transpose",
  size: int | None = None,
  data_dir: str | None = None,
  download: bool = False,
) -> UnpairedDomains:
  """Domains A = `base` and B = `transform`(`base`), from disjoint halves of its training split.

  `base`: "digits" (bundled; `size` 8 or 16 as the `digits` data set, None: 16) or a TFDS image
  set ("mnist", "fashion_mnist", read from `data_dir`, at their stored 28 x 28; `size` must be
  None).
  """
  facts(base, size, transform)
  if base == "digits":
    return UnpairedDomains(digits(size or 16), transform)
  factory = {"mnist": tfds_source.mnist, "fashion_mnist": tfds_source.fashion_mnist}[base]
  return UnpairedDomains(factory(data_dir=data_dir, download=download), transform)


def facts(base: str, size: int | None, transform: str) -> tuple[tuple[int, ...], int]:
  """(example_shape, num_classes) without reading data."""
  if base not in BASES:
    raise ValueError(f"Unknown base {base!r}; choose one of {BASES}.")
  check_transform(transform)
  if base == "digits":
    size = check_size(size or 16)
    return (size, size, 1), 10
  if size is not None:
    raise ValueError(f"size applies to the digits base only; {base!r} keeps 28 x 28. Got {size!r}.")
  return tfds_source.PREPARED[base]


__all__ = ["TRANSFORMS", "UnpairedDomains", "apply_transform", "inverse_transform", "unpaired"]
