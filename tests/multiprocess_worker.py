"""One process of `tests/test_multiprocess.py`: trains the tiny configs, dumps the final params.

python tests/multiprocess_worker.py WORKDIR OUT_DIR

Run by the test as a subprocess, with the device count in XLA_FLAGS and, for a multi-process run,
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID: it starts the way `jaxgen-train`
does (`parallel.initialize_multihost()`), so the test covers what users launch. Every path this
process opens for writing (Python's `open`/`os.open` audit event, and the renames, moves, removals
and new folders) is recorded in `OUT_DIR/writes_<process>.json`, so the test can tell which
process wrote which file in the shared workdir.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

WRITING_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
writes: set[str] = set()


def record_writes(event: str, args: tuple) -> None:
  """Audit hook: keeps every path this process creates or changes (Python-level I/O only;
  tensorstore's C++ writes of orbax's array data are not seen, and need not be)."""
  if event == "open":
    path, mode, flags = args
    writing = any(c in mode for c in "wax+") if mode else bool((flags or 0) & WRITING_FLAGS)
    if writing and isinstance(path, str | os.PathLike):
      writes.add(os.path.abspath(os.fsdecode(path)))
  elif event in ("os.rename", "os.replace"):
    writes.add(os.path.abspath(os.fsdecode(args[1])))
  elif event in ("os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree", "shutil.move"):
    writes.add(os.path.abspath(os.fsdecode(args[0])))


def configs():
  """A ring8 GAN (MLPs with batch norm) and a digits DCGAN, both a few steps, with a checkpoint
  in the middle and at the end, a log line every step and an evaluation at the end (the ring's
  picture and mode coverage, the digits' sample grid)."""
  from jaxgen.configs import dcgan_digits  # noqa: PLC0415 — after jax.distributed

  sys.path.insert(0, str(Path(__file__).parent))
  import tiny_ring8_config  # noqa: PLC0415

  ring = tiny_ring8_config.get_config()
  ring.batch_size = 32
  ring.eval.num_samples = 256
  digits = dcgan_digits.get_config()
  digits.batch_size = 16
  digits.model.generator = {"name": "dcgan", "base_features": 8}
  digits.model.discriminator = {"name": "dcgan", "base_features": 8}
  digits.eval.extractor = ""  # the picture only: FID's extractor would double the test's time
  digits.eval.num_samples = 64
  for config in (ring, digits):
    config.num_steps = 4
    config.checkpoint_every = 2
    config.eval_every = 4
    config.log_every = 1
    config.progress_bar = False
  return {"gan_ring8": ring, "dcgan_digits": digits}


def main(workdir: str, out_dir: str) -> None:
  sys.addaudithook(record_writes)
  import jax  # noqa: PLC0415

  from jaxgen.run import parallel, train  # noqa: PLC0415

  parallel.initialize_multihost()
  process = jax.process_index()
  assert len(jax.devices()) == 8, jax.devices()
  finals = {}
  for name, config in configs().items():
    state = train.train_and_evaluate(config, Path(workdir) / name)
    for path, leaf in jax.tree_util.tree_flatten_with_path(state.players)[0]:
      # Replicated: every process holds the whole value on each of its devices.
      finals[f"{name}{jax.tree_util.keystr(path)}"] = np.asarray(leaf.addressable_data(0))
  out = Path(out_dir)
  np.savez(out / f"params_{process}.npz", **finals)
  (out / f"writes_{process}.json").write_text(json.dumps(sorted(writes)))
  print(f"process {process} of {jax.process_count()} done", flush=True)


if __name__ == "__main__":
  main(*sys.argv[1:])
