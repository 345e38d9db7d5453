"""Input checks shared by the metrics: every metric takes float64 [n, d] arrays without NaN/inf."""

from __future__ import annotations

import numpy as np


def as_matrix(name: str, values) -> np.ndarray:
  """`values` as a float64 [n, d] array; ValueError naming `name` if not one, or not finite."""
  values = np.asarray(values, dtype=np.float64)
  if values.ndim != 2:
    raise ValueError(f"{name} must have shape [n, d]; got {values.shape}.")
  if not np.all(np.isfinite(values)):
    raise ValueError(f"{name} holds non-finite values.")
  return values
