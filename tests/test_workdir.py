"""One writer per workdir, and a one-line answer to each user mistake before anything is written.

The lock tests order their events (a run paused at a step by its own batch function, the second
launch's exit) and never wait for a duration.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import hang_guard
import jax
import numpy as np
import pytest
from test_train import ROOT, tiny_ring_config

from jaxgen import configs
from jaxgen.configs import adagan_ring8, gan_ring8, infogan_digits
from jaxgen.errors import CheckpointError, ConfigError, WorkdirInUseError
from jaxgen.run import checkpoint, train
from jaxgen.run.config_check import check_config
from jaxgen.run.overrides import apply_overrides
from jaxgen.run.workdir import LOCK_NAME, WorkdirLock

TINY_CONFIG = ROOT / "tests" / "tiny_ring8_config.py"


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state.players)]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
  """Every file below `folder` with its size and modification time."""
  return {
    str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
    for p in sorted(folder.rglob("*"))
    if p.is_file()
  }


def _cli(workdir, *args, config=TINY_CONFIG, cwd=None):
  command = [sys.executable, str(ROOT / "scripts" / "train.py"), f"--workdir={workdir}"]
  command += [f"--config={config}"] if config is not None else []
  command += ["--config.batch_size=32", "--config.progress_bar=False"]
  command += ["--config.eval.num_samples=100", *args]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  return hang_guard.run(command, capture_output=True, text=True, env=env, cwd=cwd)


def _one_line_failure(result, status: int) -> str:
  """The last stderr line of a command that failed with `status` and printed no traceback."""
  assert result.returncode == status, result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  return result.stderr.strip().splitlines()[-1]


# --- one writer per workdir ----------------------------------------------------------------------


def test_a_second_run_in_a_held_workdir_refuses_at_once_and_touches_nothing(tmp_path):
  workdir = tmp_path / "run"
  train.train_and_evaluate(tiny_ring_config(num_steps=6), workdir)
  before = _snapshot(workdir)
  with WorkdirLock(workdir):  # held as a live run holds it
    with pytest.raises(WorkdirInUseError) as error:
      train.train_and_evaluate(tiny_ring_config(num_steps=12), workdir)
  started = json.loads((workdir / LOCK_NAME).read_text())["started"]
  assert str(error.value) == (
    f"The workdir {workdir} is in use by another jaxgen run (pid {os.getpid()} on host "
    f"{socket.gethostname()}, started {started}). Wait for it to finish, stop it, or use another "
    "--workdir; this run changed nothing."
  )
  after = _snapshot(workdir)
  after.pop(LOCK_NAME), before.pop(LOCK_NAME)  # the holder's own record
  assert after == before
  # The holder is gone: the next run takes the lock and resumes.
  assert int(train.train_and_evaluate(tiny_ring_config(num_steps=12), workdir).step) == 12


def test_two_launches_at_once_leave_one_refusal_and_one_run_identical_to_a_lone_one(
  tmp_path, monkeypatch
):
  """The first run holds the workdir and is paused at step 3 (by its own batch function) while a
  second launch of the command line tries the same workdir; then the first run finishes."""
  workdir, clean = tmp_path / "run", train.phase_batches
  paused, released = threading.Event(), threading.Event()
  second: dict[str, subprocess.CompletedProcess] = {}

  def pausing(dataset, config, step, num_phases):
    if step == 3:  # built by the prefetch thread while step 2 runs, with the lock held
      paused.set()
      assert released.wait(hang_guard.HANG_GUARD_S), hang_guard.message("the second launch")
    return clean(dataset, config, step, num_phases)

  def launch_second():
    try:
      assert paused.wait(hang_guard.HANG_GUARD_S), hang_guard.message("the first run's step 3")
      second["result"] = _cli(workdir, "--config.num_steps=12", "--config.log_every=1")
    finally:
      released.set()

  monkeypatch.setattr(train, "phase_batches", pausing)
  launcher = threading.Thread(target=launch_second)
  launcher.start()
  config = tiny_ring_config(num_steps=12, batch_size=32, **{"eval.num_samples": 100})
  try:
    state = train.train_and_evaluate(config, workdir)
  finally:
    released.set(), paused.set()
    launcher.join()
  line = _one_line_failure(second["result"], 6)
  assert line.startswith(f"WorkdirInUseError: The workdir {workdir} is in use by another jaxgen ")
  assert f"(pid {os.getpid()} on host {socket.gethostname()}, started " in line
  monkeypatch.setattr(train, "phase_batches", clean)
  lone = train.train_and_evaluate(config, tmp_path / "lone")
  for a, b in zip(_leaves(state), _leaves(lone), strict=True):
    np.testing.assert_array_equal(a, b)
  records = [json.loads(r) for r in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, 13))


def test_a_sigkilled_holder_leaves_no_stale_lock_and_the_next_run_resumes(tmp_path):
  workdir = tmp_path / "run"
  command = [sys.executable, str(ROOT / "scripts" / "train.py"), f"--workdir={workdir}"]
  command += [f"--config={TINY_CONFIG}", "--config.batch_size=32", "--config.progress_bar=False"]
  command += ["--config.num_steps=100000", "--config.checkpoint_every=5", "--config.log_every=1"]
  command += ["--config.eval_every=100000", "--config.eval.num_samples=100"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  holder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
  try:
    hang_guard.wait_until(
      lambda: (
        checkpoint.Checkpointer(workdir, read_only=True).latest_step() is not None
        or holder.poll() is not None
      ),
      "the first checkpoint",
    )
    assert holder.poll() is None, holder.stderr.read().decode()[-3000:]
    assert json.loads((workdir / LOCK_NAME).read_text())["pid"] == holder.pid
  finally:
    holder.send_signal(signal.SIGKILL)
    hang_guard.wait(holder)
    holder.stderr.close()
  result = _cli(workdir, "--config.num_steps=10", "--config.checkpoint_every=5")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "resumed from step " in result.stderr
  assert json.loads((workdir / LOCK_NAME).read_text())["pid"] != holder.pid


def test_readers_take_no_lock_and_leave_a_save_in_flight_alone(tmp_path):
  train.train_and_evaluate(tiny_ring_config(num_steps=6), tmp_path)
  in_flight = tmp_path / "checkpoints" / "12.orbax-checkpoint-tmp-0"  # a writer's save
  in_flight.mkdir()
  with WorkdirLock(tmp_path):  # a run is training here
    run = train.Run(train.recorded_config(tmp_path))
    assert int(train.restore_state(run, tmp_path).step) == 6
  assert in_flight.is_dir()


# --- mistakes: one line, the documented exit status, nothing written ---------------------------


def test_a_workdir_that_is_a_file_is_refused_in_one_line(tmp_path):
  (tmp_path / "afile").write_text("mine")
  result = _cli(tmp_path / "afile", "--config.num_steps=2")
  assert _one_line_failure(result, 2) == (
    f"ConfigError: --workdir {tmp_path / 'afile'} cannot be used: it is a file, not a directory. "
    "Give a new or existing directory as --workdir."
  )
  with pytest.raises(ConfigError, match=r"afile, a folder above it, is a file"):
    train.train_and_evaluate(tiny_ring_config(), tmp_path / "afile" / "run")
  assert (tmp_path / "afile").read_text() == "mine"


def test_a_config_is_found_by_name_and_a_missing_one_gets_a_suggestion(tmp_path):
  assert configs.load("gan_ring8") == gan_ring8.get_config()
  assert configs.load("gan_ring8.py") == gan_ring8.get_config()
  assert configs.resolve("gan_ring8") == ROOT / "jaxgen" / "configs" / "gan_ring8.py"
  result = _cli(tmp_path / "w", config="gan_rin8", cwd=ROOT)
  line = _one_line_failure(result, 2)
  assert line.startswith(
    "ConfigError: --config gan_rin8: no such config file, and not a config name. Did you mean "
    "jaxgen/configs/gan_ring8.py? Config names: aae_digits, "
  )
  result = _cli(tmp_path / "w", config="jaxgen/configs/x.py", cwd=ROOT)
  assert _one_line_failure(result, 2).startswith(
    "ConfigError: --config jaxgen/configs/x.py: no such config file, and not a config name. "
    "Config names: "
  )
  assert not (tmp_path / "w").exists()


def test_the_command_line_trains_a_config_given_by_name(tmp_path):
  result = _cli(
    tmp_path / "run",
    "--config.num_steps=2",
    "--config.eval_every=2",
    "--config.checkpoint_every=2",
    "--config.model.generator.hidden=(8,)",
    "--config.model.discriminator.hidden=(8,)",
    config="gan_ring8",
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads((tmp_path / "run" / "config.json").read_text())["num_steps"] == 2


@pytest.mark.parametrize("spec", ["jaxgen/configs/gan_ring8.py", "gan_ring8", TINY_CONFIG])
def test_run_takes_a_config_name_or_path(spec, monkeypatch):
  monkeypatch.chdir(ROOT)
  expected = configs.load(spec)
  assert train.Run(spec).config == expected


def test_run_of_something_else_says_what_a_config_is():
  with pytest.raises(ConfigError) as error:
    train.Run(42)
  assert str(error.value) == (
    "A config is an ml_collections.ConfigDict, a config name (e.g. 'gan_ring8') or the path of a "
    "config file; got a int: 42."
  )


def test_a_penalty_named_on_the_command_line_takes_its_papers_weight_and_says_so():
  config = gan_ring8.get_config()
  notices = apply_overrides(config, {"algorithm.penalty.name": "r1"}, parse_strings=True)
  assert notices == ["algorithm.penalty: r1 with its defaults weight=10.0"]
  assert dict(config.algorithm.penalty) == {"name": "r1", "weight": 10.0}
  config = gan_ring8.get_config()
  notices = apply_overrides(config, {"algorithm.penalty": "wgan_gp"}, parse_strings=True)
  assert notices == ["algorithm.penalty: wgan_gp with its defaults weight=10.0"]
  assert dict(config.algorithm.penalty) == {"name": "wgan_gp", "weight": 10.0}
  check_config(config)
  config = gan_ring8.get_config()
  overrides = {"algorithm.penalty": "dragan", "algorithm.penalty.weight": "5"}
  assert apply_overrides(config, overrides, parse_strings=True) == [
    "algorithm.penalty: dragan with its defaults scale=0.5"
  ]
  assert dict(config.algorithm.penalty) == {"name": "dragan", "weight": 5.0, "scale": 0.5}


def test_a_penalty_with_weight_zero_is_refused_as_a_no_op():
  config = gan_ring8.get_config()
  config.algorithm.penalty = {"name": "r1", "weight": 0.0}
  with pytest.raises(ConfigError) as error:
    check_config(config)
  assert str(error.value) == (
    "algorithm.penalty = {'name': 'r1', 'weight': 0.0} is refused: The 'r1' penalty with weight 0 "
    "adds nothing to D's loss: set a weight > 0 (r1's default, its paper's value: 10.0) or name "
    "the penalty 'none'."
  )


@pytest.mark.parametrize("text, expected", [("0.3", 0.3), ("uniform", "uniform"), ("1", 1.0)])
def test_a_field_declared_a_name_or_a_number_takes_either_from_the_command_line(text, expected):
  config = adagan_ring8.get_config()
  apply_overrides(config, {"algorithm.beta": text}, parse_strings=True)
  assert config.algorithm.beta == expected and type(config.algorithm.beta) is type(expected)
  if text == "1":  # a number, then refused by AdaGAN's own range
    with pytest.raises(ConfigError, match=r"algorithm.beta = 1.0 is refused: .* in \(0, 1\)"):
      check_config(config)
  else:
    check_config(config)


def test_the_check_traces_the_init_and_refuses_what_fails_there():
  config = infogan_digits.get_config()
  apply_overrides(config, {"model.discriminator.name": "progan"}, parse_strings=True)
  with pytest.raises(ConfigError) as error:
    check_config(config)
  assert str(error.value).startswith(
    "The config's pieces do not fit together (algorithm 'infogan' on data 'digits', examples of "
    "shape (16, 16, 1)): the auxiliary head and minibatch discrimination read the features that "
    "the base discriminator sows, and ProGANDiscriminator sows none: choose a discriminator"
  )


@pytest.mark.parametrize("name", configs.names())
def test_every_shipped_config_passes_the_check_with_its_init(name):
  check_config(configs.load(name))


def test_a_failed_restore_leaves_no_folder_behind(tmp_path):
  state = train.Run(tiny_ring_config()).init_state()
  for read_only in (False, True):
    reader = checkpoint.Checkpointer(tmp_path / "empty", read_only=read_only)
    with pytest.raises(CheckpointError, match="No checkpoint in "):
      reader.restore(state)
    reader.close()
  assert not (tmp_path / "empty").exists()
