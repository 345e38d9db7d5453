"""Two processes of 4 CPU devices each train in lock-step (`jax.distributed` on 127.0.0.1) and end
where one process with 8 devices ends; only process 0 writes the run's files.

Each run is `tests/multiprocess_worker.py` in a subprocess (a process holds one JAX backend, and
`jax.distributed.initialize` must come before any computation). The workers of the two-process
run share one workdir, as on a cluster's shared disk. Who wrote what is told by each worker's
record of the paths it opened for writing (a Python audit hook on `open`, renames, removals and new
folders). The hook sees Python's writes, which are all of jaxgen's; it misses only tensorstore's
C++ writes of orbax's array data, which stay under `checkpoints/`. That the hook does see the run's
files is checked on process 0's record, and double writers would show on disk as well: every
record once in `metrics.jsonl`, one TensorBoard events file per run.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import hang_guard
import numpy as np
import pytest

from jaxgen.errors import ConfigError
from jaxgen.run import parallel

WORKER = Path(__file__).with_name("multiprocess_worker.py")
REPO = WORKER.parent.parent
RUNS = ("gan_ring8", "dcgan_digits")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start(workdir: Path, out: Path, devices: int, distributed: dict[str, str]):
  out.mkdir(parents=True, exist_ok=True)
  env = {
    **os.environ,
    "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
    "JAX_PLATFORMS": "cpu",
    "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    "JAXGEN_CACHE_DIR": str(out / "cache"),  # FID reference statistics: not the user's cache
    **distributed,
  }
  for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
    if name not in distributed:
      env.pop(name, None)
  log = (out / "log.txt").open("w")
  return subprocess.Popen(
    [sys.executable, str(WORKER), str(workdir), str(out)], env=env, stdout=log, stderr=log
  )


def finish(processes, outs) -> None:
  """Waits for every process; the first failure (or the hang guard: a hung collective) kills the
  others, whose peers would otherwise wait for it until JAX's own timeouts."""
  deadline, hung = time.monotonic() + hang_guard.HANG_GUARD_S, False
  try:
    while None in (statuses := [p.poll() for p in processes]) and not any(statuses):
      hung = time.monotonic() > deadline
      if hung:
        break
      time.sleep(0.5)
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
        process.wait()
  stuck = hang_guard.message("the processes of the multi-process run") + "\n" if hung else ""
  for process, out in zip(processes, outs, strict=True):
    assert process.returncode == 0, stuck + (out / "log.txt").read_text()[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """Starts the single-process run and both workers of the two-process run at once."""
  root = tmp_path_factory.mktemp("multiprocess")
  address = f"127.0.0.1:{free_port()}"
  outs = [root / "single", root / "process_0", root / "process_1"]
  processes = [start(root / "single_workdir", outs[0], 8, {})]
  for index in range(2):
    distributed = {
      "JAX_COORDINATOR_ADDRESS": address,
      "JAX_NUM_PROCESSES": "2",
      "JAX_PROCESS_ID": str(index),
    }
    processes.append(start(root / "shared_workdir", outs[1 + index], 4, distributed))
  finish(processes, outs)
  return root


def load(out: Path) -> dict[str, np.ndarray]:
  with np.load(
    out / "params_0.npz" if out.name == "single" else next(out.glob("params_*.npz"))
  ) as f:
    return dict(f)


@pytest.mark.slow  # three JAX processes compiling two models each: minutes on 2 busy cores
def test_two_processes_end_where_one_process_of_eight_devices_ends(runs):
  single = load(runs / "single")
  processes = [load(runs / f"process_{i}") for i in range(2)]
  for run in RUNS:
    assert any(key.startswith(run) for key in single)
  for params in processes:
    assert params.keys() == single.keys()
    worst = max(float(np.max(np.abs(params[k] - single[k]))) for k in single)
    print(f"max |diff| to the single-process run: {worst:.3g}")
    for key in single:
      np.testing.assert_allclose(params[key], single[key], rtol=1e-5, atol=1e-5, err_msg=key)
  for key in single:  # the processes hold one replicated state: the same bits
    np.testing.assert_array_equal(processes[0][key], processes[1][key], err_msg=key)


@pytest.mark.slow
def test_only_process_0_writes_the_run_files(runs):
  shared = runs / "shared_workdir"
  writes = [json.loads((runs / f"process_{i}" / f"writes_{i}.json").read_text()) for i in range(2)]
  # (run, name in the run's folder, ...) of each path written under the shared workdir
  in_workdir = [
    [Path(p).relative_to(shared).parts for p in w if Path(p).is_relative_to(shared)] for w in writes
  ]
  for run in RUNS:
    written_by_0 = {p[1] for p in in_workdir[0] if p[:1] == (run,) and len(p) > 1}
    # Process 0 wrote the files of the run (a name per kind: `.name.tmp` files are renamed).
    for name in ("config.json", "metrics.jsonl", "tensorboard", "losses.png", "checkpoints"):
      assert name in written_by_0, (run, sorted(written_by_0))
    assert any(name.startswith("samples_") for name in written_by_0), sorted(written_by_0)
    # Process 1 took part in orbax's collective saves under checkpoints/ and wrote nothing else.
    elsewhere = [
      p for p in in_workdir[1] if p[:1] == (run,) and p[1:2] not in ((), ("checkpoints",))
    ]
    assert not elsewhere, elsewhere
    # On disk: each step logged once, one TensorBoard events file, both checkpoints complete.
    lines = (shared / run / "metrics.jsonl").read_text().splitlines()
    assert len(set(lines)) == len(lines), lines  # two writers would log each record twice
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records if "generator/loss" in r] == [1, 2, 3, 4]
    assert len(list((shared / run / "tensorboard").iterdir())) == 1
    for step in (2, 4):
      assert (shared / run / "checkpoints" / str(step) / "commit_success.txt").exists()


def test_initialize_multihost_needs_a_variable_and_names_a_bad_one(monkeypatch):
  for name in ("JAX_COORDINATOR_ADDRESS", "JAXGEN_MULTIHOST", "JAX_NUM_PROCESSES"):
    monkeypatch.delenv(name, raising=False)
  assert parallel.initialize_multihost() is False  # a single-process run: nothing to do
  monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "127.0.0.1:1")
  monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
  with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES='two' is not an integer"):
    parallel.initialize_multihost()  # raised before jax.distributed is called
