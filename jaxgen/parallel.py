"""The one sharding-aware module: the device mesh, shardings, batch placement, multi-host init.

Data parallelism is `jax.jit` with `NamedSharding`: the train state is replicated, every batch is
split along the `data` mesh axis, and XLA inserts the gradient all-reduce (`jax.pmap` is the old
API). Under jit the program has global semantics, so batch-norm statistics and means are over the
global batch and a step on 8 devices equals the step on one.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def initialize_multihost() -> None:
  """Calls `jax.distributed.initialize()` when launched as one process of a multi-host job.

  The coordinator address, process count and id come from the environment (JAX_COORDINATOR_ADDRESS,
  JAX_NUM_PROCESSES, JAX_PROCESS_ID) or from the cluster (SLURM, TPU pods), as JAX documents.
  """
  if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("JAXGEN_MULTIHOST"):
    jax.distributed.initialize()


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh over all (global) devices with the single axis `data`."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, leading_axes: int = 0) -> NamedSharding:
  """Splits the batch axis (after `leading_axes` unsplit axes, e.g. the phase axis) on `data`."""
  return NamedSharding(mesh, PartitionSpec(*([None] * leading_axes), DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  num_devices = mesh.devices.size
  if batch_size % num_devices:
    raise ValueError(
      f"batch_size={batch_size} is not divisible by the {num_devices} devices of the mesh; "
      f"use a multiple of {num_devices}."
    )


def put_replicated(tree, mesh: Mesh):
  return jax.device_put(tree, replicated(mesh))


def put_batch(local_batch, mesh: Mesh, leading_axes: int = 0):
  """Places this process's slice of the global batch, sharded over the devices.

  Each process passes its own rows; `make_array_from_process_local_data` assembles the global
  array (on one host it is a plain sharded `device_put`).
  """
  sharding = batch_sharding(mesh, leading_axes)
  return jax.tree.map(
    lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch
  )
