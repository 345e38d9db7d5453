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

from jaxgen.errors import ConfigError

DATA_AXIS = "data"


def _env_int(name: str) -> int | None:
  value = os.environ.get(name)
  if value is None or value == "":
    return None
  try:
    return int(value)
  except ValueError:
    raise ConfigError(
      f"The environment variable {name}={value!r} is not an integer; set it to one, or unset it "
      "on a cluster that jax.distributed detects (SLURM, Open MPI, Cloud TPU)."
    ) from None


def initialize_multihost() -> bool:
  """Calls `jax.distributed.initialize` when launched as one process of a multi-process job;
  returns whether it did. Call it before any JAX computation.

  The environment says which job (the names are JAX's own, so a launcher can set them once):

  * `JAX_COORDINATOR_ADDRESS` (`host:port` of process 0, the same for every process),
    `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID` (0 .. n-1): an explicit launch. JAX reads only the
    address from the environment; the count and the id are read here and passed on.
  * `JAXGEN_MULTIHOST=1` alone: JAX detects all three from the cluster (SLURM's srun, Open MPI's
    mpirun, a Cloud TPU slice); any of the variables above that is set wins over detection.
  * `JAX_LOCAL_DEVICE_IDS` (optional, read by JAX): the local devices of this process, e.g. `0`
    for one process per GPU.

  Collectives across CPU processes need an implementation (`jax_cpu_collectives_implementation`):
  gloo is the default of the JAX we test with (0.10.2); where a JAX has none ("none", with which
  the first cross-process step fails), gloo is chosen here.
  """
  address = os.environ.get("JAX_COORDINATOR_ADDRESS") or None
  if not (address or os.environ.get("JAXGEN_MULTIHOST")):
    return False
  num_processes, process_id = _env_int("JAX_NUM_PROCESSES"), _env_int("JAX_PROCESS_ID")
  if jax.config.jax_cpu_collectives_implementation in (None, "none"):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    jax.distributed.initialize(address, num_processes=num_processes, process_id=process_id)
  except ValueError as error:  # JAX says e.g. "Number of processes must be defined."
    raise ConfigError(
      f"Cannot start the multi-process run: {error} Set JAX_COORDINATOR_ADDRESS, "
      "JAX_NUM_PROCESSES and JAX_PROCESS_ID, or launch under SLURM, Open MPI or on a Cloud TPU "
      "slice with JAXGEN_MULTIHOST=1 (see docs/guide/devices.md)."
    ) from error
  return True


def is_writer() -> bool:
  """Whether this process writes the run's files (logs, pictures, config record): process 0 only,
  so that processes sharing a workdir never write one file twice. Checkpoints are different: every
  process takes part in orbax's save."""
  return jax.process_index() == 0


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh over all (global) devices with the single axis `data`."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


# XLA:CPU's YNNPACK library fusions (`config.cpu_dot_fusion`): "default" leaves XLA's choice, which
# fuses dots with their elementwise neighbours into one library call; "individual" hands each dot
# to YNNPACK alone and leaves the elementwise ops to XLA's loop fusions: the ring8 MLP step ran in
# 0.61-0.84x the time (median 0.71x, 6 interleaved rounds), the DCGAN step in 0.77-0.96x, with
# float32 rounding differences (1.7e-6 in ring8's params after one step). CPU only.
CPU_DOT_FUSIONS = {
  "default": {},
  "individual": {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"},
}


def compiler_options(cpu_dot_fusion: str, mesh: Mesh) -> dict[str, str]:
  """The XLA compiler options of a jitted train step on `mesh` (`CPU_DOT_FUSIONS`, on CPUs only:
  another backend would reject the xla_cpu_* flags). `config_check` refuses unknown names."""
  if any(device.platform != "cpu" for device in mesh.devices.flat):
    return {}
  return dict(CPU_DOT_FUSIONS[cpu_dot_fusion])


def replicated(mesh: Mesh) -> NamedSharding:
  """The sharding that puts a full copy of an array on every device of `mesh`."""
  return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, leading_axes: int = 0) -> NamedSharding:
  """Splits the batch axis (after `leading_axes` unsplit axes, e.g. the phase axis) on `data`."""
  return NamedSharding(mesh, PartitionSpec(*([None] * leading_axes), DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
  """Refuses (ValueError) a `batch_size` that the mesh's devices cannot split evenly."""
  num_devices = mesh.devices.size
  if batch_size % num_devices:
    raise ValueError(
      f"batch_size={batch_size} is not divisible by the {num_devices} devices of the mesh; "
      f"use a multiple of {num_devices}."
    )


def put_replicated(tree, mesh: Mesh):
  """`tree`'s arrays placed on every device of `mesh`, a full copy on each."""
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


def any_process(received: str | None) -> str | None:
  """A stop request agreed by every process: this process's signal name, or when only another
  process received one, a name saying so; None when none did. A collective (every process must
  call it at the same step), so that all processes save the same step and stop together."""
  if jax.process_count() == 1:
    return received
  from jax.experimental import multihost_utils  # noqa: PLC0415 — only multi-process runs need it

  flags = multihost_utils.process_allgather(np.int32(received is not None))
  if received is None and np.any(flags):
    return "a signal to another process"
  return received
