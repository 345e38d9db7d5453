"""The digest stored with each checkpoint (see `jaxgen.run.checkpoint`): sha256 over each leaf's key
path, dtype, shape and bytes, in tree order, so that a restored state is known to be the one saved.

One host copy and one sha256 pass of the state per save and per restore (about 10 ms for 10 MB on
one CPU core), computed in the calling thread: the loop donates the state's buffers to the next
step, so they cannot be read later in the background.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgen.errors import CheckpointError

DIGEST_FORMAT = 1


def _is_key(dtype) -> bool:
  return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def leaf_spec(tree: Any) -> list[list]:
  """[key path, dtype, shape] of each leaf in tree order; typed PRNG keys as their key data."""
  spec = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    # Key paths, not `str(treedef)`: a treedef's text may hold static fields such as function
    # reprs with memory addresses, which differ between processes.
    name = jax.tree_util.keystr(path)
    dtype = getattr(leaf, "dtype", None)
    if dtype is not None and _is_key(dtype):
      # The key impl stays in the dtype ("key<fry>"): other impls are another state.
      shape = jax.eval_shape(jax.random.key_data, leaf).shape
    else:
      shape = np.shape(leaf)
      dtype = dtype if dtype is not None else np.asarray(leaf).dtype
    spec.append([name, str(dtype), [int(n) for n in shape]])
  return spec


def _host_copy(leaf: Any, name: str) -> np.ndarray:
  if _is_key(getattr(leaf, "dtype", np.float32)):
    leaf = jax.random.key_data(leaf)
  if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
    return np.asarray(jax.device_get(leaf))
  if leaf.is_fully_replicated:  # multi-host: every process holds the whole value
    return np.asarray(leaf.addressable_data(0))
  raise CheckpointError(
    f"Cannot compute the checkpoint digest: the leaf {name} is sharded across processes, and "
    "jaxgen checksums only train states whose arrays are fully replicated."
  )


def _spec_hash(spec: list[list]) -> str:
  return hashlib.sha256(json.dumps(spec).encode()).hexdigest()


def state_digest(state: Any) -> dict[str, Any]:
  """The digest stored with a checkpoint: {"format", "sha256", "leaves", "leaves_sha256"}.

  `sha256` covers the leaf list (key path, dtype, shape of each leaf) and then each leaf's bytes
  in tree order; `leaves_sha256` covers the list alone, so that a damaged digest file is told
  apart from a checkpoint of a different model.
  """
  spec = leaf_spec(state)
  digest = hashlib.sha256(json.dumps(spec).encode())
  flat = jax.tree_util.tree_flatten_with_path(state)[0]
  for (path, leaf), (_, _, shape) in zip(flat, spec, strict=True):
    host = _host_copy(leaf, jax.tree_util.keystr(path))
    if list(host.shape) != shape:  # e.g. a leaf the spec saw as a Python scalar
      raise CheckpointError(f"The leaf {jax.tree_util.keystr(path)} changed shape while hashed.")
    digest.update(np.ascontiguousarray(host).reshape(-1).view(np.uint8).data)  # bytes, no copy
  return {
    "format": DIGEST_FORMAT,
    "sha256": digest.hexdigest(),
    "leaves": spec,
    "leaves_sha256": _spec_hash(spec),
  }


def matches_digest(state: Any, stored: dict[str, Any]) -> bool:
  """Whether `state` (as read from a checkpoint) is what was saved with the digest `stored`."""
  return state_digest(state)["sha256"] == stored["sha256"]


def stored_digest_problem(stored: Any) -> str | None:
  """Why a digest record read from disk is unusable, or None."""
  if not isinstance(stored, dict) or stored.get("format") != DIGEST_FORMAT:
    return f"its digest record is not jaxgen digest format {DIGEST_FORMAT}"
  if not isinstance(stored.get("sha256"), str) or not isinstance(stored.get("leaves"), list):
    return "its digest record is incomplete"
  if _spec_hash(stored["leaves"]) != stored.get("leaves_sha256"):
    return "its digest record is damaged (the leaf list does not match its checksum)"
  return None


def different_model(step: int, directory: Path, saved: list, current: list) -> str:
  """The message refusing checkpoint `step`, whose leaf list `saved` is not the `current` one."""
  saved_by, current_by = {s[0]: s[1:] for s in saved}, {c[0]: c[1:] for c in current}
  differing = [
    k for k in dict.fromkeys([*saved_by, *current_by]) if saved_by.get(k) != current_by.get(k)
  ]

  def describe(entry):
    return "absent" if entry is None else f"{entry[0]}{entry[1]}"

  details = ", ".join(
    f"{k}: {describe(saved_by.get(k))} -> {describe(current_by.get(k))}" for k in differing[:4]
  )
  more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
  return (
    f"Checkpoint {step} in {directory} was written for a different model ({details}{more}). "
    "Use a new --workdir, or the code and config that wrote it."
  )
