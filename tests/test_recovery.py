"""Runs that survive: signals save and stop, resumed logs hold each step once, NaN stops name the
update that went wrong, and SIGKILL at random moments (start-up and mid-save included) changes
nothing about the final parameters."""

import contextlib
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from tensorboardX.proto import event_pb2
from test_train import ROOT, tiny_ring_config

from jaxgen import checkpoint, train
from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.overrides import apply_overrides


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state.players)]


def _restore(workdir, config):
  result = checkpoint.Checkpointer(workdir, keep=3).restore_latest(train.Run(config).init_state())
  return result.state


def _records(workdir):
  return [json.loads(line) for line in (Path(workdir) / "metrics.jsonl").read_text().splitlines()]


def _events(directory):
  """Every TensorBoard event in `directory`: TFRecord framing (u64 length, u32 crc, data, u32 crc)
  around `Event` protos."""
  events = []
  for path in sorted(Path(directory).glob("events.out.tfevents.*")):
    content = path.read_bytes()
    offset = 0
    while offset + 12 <= len(content):
      (length,) = struct.unpack("<Q", content[offset : offset + 8])
      event = event_pb2.Event()
      event.ParseFromString(content[offset + 12 : offset + 12 + length])
      events.append(event)
      offset += 12 + length + 4
  return events


# --- non-finite stops ----------------------------------------------------------------------------


def test_a_huge_discriminator_step_is_named_as_the_cause_and_no_checkpoint_is_claimed(tmp_path):
  # Adam moves each weight by ~lr: D's params reach ~1e30 (still finite), and G's loss through D
  # is the first NaN. The message names that update and D's learning rate as the likely cause.
  config = tiny_ring_config(num_steps=4, checkpoint_every=4, eval_every=4)
  config.optimizer.discriminator.learning_rate = 1e30
  with pytest.raises(train.NonFiniteError) as error:
    train.train_and_evaluate(config, tmp_path)
  message = str(error.value)
  assert "step 1: the update of player 'generator' (schedule phase 1)" in message
  assert "The parameter norm of player 'discriminator' grew past float32's range" in message
  assert "check optimizer.discriminator.learning_rate" in message
  assert "no checkpoint was written yet" in message and "None" not in message


def test_an_update_that_makes_params_infinite_is_named_itself(tmp_path, monkeypatch):
  clean = train.phase_batches

  def scaled(dataset, config, step, num_phases):  # large inputs: D's gradient is ~1e3
    batches = clean(dataset, config, step, num_phases)
    return {**batches, "x": batches["x"] * 1e3}

  monkeypatch.setattr(train, "phase_batches", scaled)
  config = tiny_ring_config(num_steps=4, checkpoint_every=4, eval_every=4)
  config.optimizer.discriminator = {"name": "sgd", "learning_rate": 1e38}  # 1e38 * 1e3 = inf
  with pytest.raises(
    train.NonFiniteError, match=r"step 1: the update of player 'discriminator' \(schedule phase 0"
  ):
    train.train_and_evaluate(config, tmp_path)


# --- bad values: refused before anything is written ------------------------------------------


@pytest.mark.parametrize(
  "key, value, message",
  [
    (
      "eval.extractor",
      "digits_clasifier",
      r"eval.extractor = 'digits_clasifier'.*Did you mean 'digits_classifier'",
    ),
    ("optimizer.discriminator.b1", 1.5, r"optimizer.discriminator.b1 = 1.5 .* \[0, 1\)"),
    ("optimizer.generator.learning_rate", -1e-4, r"learning_rate = -0.0001 is out of range"),
    ("model.latent_dim", 0, r"model.latent_dim = 0 .* integer >= 1"),
  ],
)
def test_a_bad_value_is_refused_before_the_workdir_is_touched(tmp_path, key, value, message):
  from jaxgen.configs import dcgan_digits  # the digits config has an extractor to misspell

  config = dcgan_digits.get_config() if key == "eval.extractor" else tiny_ring_config()
  apply_overrides(config, {key: value})
  with pytest.raises(ConfigError, match=message):
    train.train_and_evaluate(config, tmp_path / "run")
  assert not (tmp_path / "run").exists()  # no config.json to guard, no checkpoint: fix and rerun


# --- metrics.jsonl and TensorBoard after a resume ------------------------------------------------


def test_resume_drops_records_past_the_checkpoint_and_a_torn_line(tmp_path):
  train.train_and_evaluate(tiny_ring_config(num_steps=6), tmp_path)
  # What a run killed after its step-6 checkpoint leaves: steps 7-8 logged, step 9 torn mid-write.
  with (tmp_path / "metrics.jsonl").open("a") as f:
    f.write(json.dumps({"step": 7, "generator/loss": 1.0}) + "\n")
    f.write(json.dumps({"step": 8, "generator/loss": 1.0}) + "\n")
    f.write('{"step": 9, "generator/lo')
  train.train_and_evaluate(tiny_ring_config(num_steps=12), tmp_path)
  records = _records(tmp_path)
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, 13))
  assert [r["step"] for r in records if "eval/modes" in r] == [6, 12]
  assert all(r["generator/loss"] != 1.0 for r in records if r["step"] in (7, 8))
  # The resumed writer tells TensorBoard to hide events of steps >= 7 written before the resume.
  starts = [e.step for e in _events(tmp_path / "tensorboard") if e.HasField("session_log")]
  assert 7 in starts


# --- SIGINT / SIGTERM ----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_step_saves_it_and_the_rerun_matches_an_uninterrupted_run(
  tmp_path, monkeypatch, signum
):
  clean = train.phase_batches

  def signalling(dataset, config, step, num_phases):
    if step == 5:  # the prefetch thread builds step 5's batches while step 4 runs
      signal.raise_signal(signum)
    return clean(dataset, config, step, num_phases)

  monkeypatch.setattr(train, "phase_batches", signalling)
  config = tiny_ring_config(checkpoint_every=1000, eval_every=1000)
  with pytest.raises(train.Interrupted) as stopped:
    train.train_and_evaluate(config, tmp_path / "stopped")
  step = stopped.value.step
  assert 4 <= step <= 6
  assert str(stopped.value).startswith(f"Stopped by {signum.name} at step {step}: checkpoint")
  assert checkpoint.Checkpointer(tmp_path / "stopped", keep=3).latest_step() == step
  assert signal.getsignal(signum) is not None  # the loop's handler is gone again
  monkeypatch.setattr(train, "phase_batches", clean)
  resumed = train.train_and_evaluate(config, tmp_path / "stopped")
  fresh = train.train_and_evaluate(config, tmp_path / "fresh")
  for a, b in zip(_leaves(resumed), _leaves(fresh), strict=True):
    np.testing.assert_array_equal(a, b)
  assert [r["step"] for r in _records(tmp_path / "stopped") if "generator/loss" in r] == list(
    range(1, 13)
  )


def _command(workdir, num_steps, *extra):
  return [
    sys.executable,
    str(ROOT / "scripts" / "train.py"),
    f"--config={ROOT / 'tests' / 'tiny_ring8_config.py'}",
    f"--workdir={workdir}",
    f"--config.num_steps={num_steps}",
    "--config.batch_size=32",
    "--config.progress_bar=False",
    "--config.eval.num_samples=100",
    *extra,
  ]


def _environment(cache):
  # A persistent compilation cache makes each restart cost its imports, not a recompile.
  return {
    **os.environ,
    "JAX_PLATFORMS": "cpu",
    "JAX_COMPILATION_CACHE_DIR": str(cache),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
  }


def test_sigterm_on_the_command_line_saves_and_exits_cleanly_with_one_line(tmp_path):
  workdir = tmp_path / "run"
  process = subprocess.Popen(
    _command(workdir, 100_000, "--config.checkpoint_every=100000", "--config.eval_every=100000"),
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    env=_environment(tmp_path / "cache"),
  )
  deadline = time.time() + 120
  while not (workdir / "metrics.jsonl").exists() or not (workdir / "metrics.jsonl").read_text():
    assert process.poll() is None, process.communicate()[1][-3000:]
    assert time.time() < deadline, "the run logged nothing"
    time.sleep(0.1)
  process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr[-3000:]
  last = stderr.strip().splitlines()[-1]
  assert last.startswith("Stopped by SIGTERM at step ") and "Run the same command" in last
  step = int(last.split("at step ")[1].split(":")[0])
  assert checkpoint.Checkpointer(workdir, keep=3).latest_step() == step > 0
  assert "Traceback" not in stderr


# --- a full disk and corrupt checkpoints, as the loop and the command line meet them ----------


def test_a_full_disk_stops_the_loop_before_the_next_save_and_the_rerun_resumes(
  tmp_path, small_disk, monkeypatch
):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "checkpoints").symlink_to(small_disk)  # only the checkpoints on the 2 MiB disk
  filler, clean = small_disk / "filler", train.phase_batches

  def filling(dataset, config, step, num_phases):
    if step == 6 and not filler.exists():  # after checkpoint 4 committed, before checkpoint 8
      deadline = time.time() + 60
      while not (small_disk / "4").exists():  # the save of step 4 runs in the background
        assert time.time() < deadline, "checkpoint 4 was never committed"
        time.sleep(0.01)
      with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:  # until ENOSPC
          f.write(b"\0" * 4096)
    if step > 8:
      time.sleep(0.2)  # slow steps: how soon after the failed save the loop stops is visible
    return clean(dataset, config, step, num_phases)

  monkeypatch.setattr(train, "phase_batches", filling)
  config = tiny_ring_config(num_steps=16, checkpoint_every=4, eval_every=1000)
  with pytest.raises(CheckpointError) as error:
    train.train_and_evaluate(config, workdir)
  assert str(error.value).startswith(
    f"No space left on device while writing checkpoint 8 to {workdir.absolute() / 'checkpoints'}"
    "; checkpoint 4 is intact."
  )
  logged = [r["step"] for r in _records(workdir) if "generator/loss" in r]
  assert max(logged) < 12  # stopped by the per-step poll, not by the next save at step 12
  assert checkpoint.Checkpointer(workdir, keep=3).latest_step() == 4
  filler.unlink()
  monkeypatch.setattr(train, "phase_batches", clean)
  assert int(train.train_and_evaluate(config, workdir).step) == 16


def test_when_every_checkpoint_is_unreadable_the_command_line_says_so_in_one_line(tmp_path):
  workdir, environment = tmp_path / "run", _environment(tmp_path / "cache")
  command = _command(workdir, 2, "--config.checkpoint_every=1", "--config.eval_every=100000")
  subprocess.run(command, check=True, capture_output=True, env=environment, timeout=300)
  for path in (workdir / "checkpoints").glob("*/state/**/*"):
    if path.is_file():
      path.unlink()
  result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
  assert result.returncode == 3, result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("CheckpointError: No usable checkpoint in ")
  assert "step 2 cannot be read" in lines[-1] and "step 1 cannot be read" in lines[-1]
  assert "Traceback" not in result.stderr and len(lines) <= 4, result.stderr
  assert sorted(p.name for p in (workdir / "checkpoints_corrupt").iterdir() if p.is_dir()) == [
    "1",
    "2",
  ]


# --- SIGKILL at random moments -------------------------------------------------------------------


def _saves_in_flight(workdir):
  """The temporary folders orbax writes a checkpoint into before renaming it."""
  folder = workdir / "checkpoints"
  return {name for name in os.listdir(folder) if "tmp" in name} if folder.exists() else set()


@pytest.mark.slow
def test_random_sigkills_including_start_up_and_mid_save_change_nothing(tmp_path):
  """At least 20 SIGKILLs, half at a random moment after launch (import, compile, restore, train,
  save, evaluate), half the moment a checkpoint is being written; then the run is completed. The
  final params are bit-identical to an uninterrupted run's and every step is logged once."""
  num_steps, workdir = 40, tmp_path / "killed"
  command = _command(
    workdir,
    num_steps,
    "--config.checkpoint_every=2",
    "--config.eval_every=10",
    "--config.log_every=1",
  )
  environment = _environment(tmp_path / "cache")
  # The reference run goes on beside the kills (they mostly wait on start-ups).
  reference = subprocess.Popen(
    [*command[:3], f"--workdir={tmp_path / 'uninterrupted'}", *command[4:]],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    env=environment,
  )
  chooser = random.Random(20261130)
  kills = mid_save = 0
  while kills < 20:
    process = subprocess.Popen(
      command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment
    )
    launched, leftovers = time.time(), _saves_in_flight(workdir)
    if kills % 2 == 0:
      delay = chooser.uniform(0.2, 4.5)
      while time.time() - launched < delay and process.poll() is None:
        time.sleep(0.01)
    else:
      while not _saves_in_flight(workdir) - leftovers and process.poll() is None:
        assert time.time() - launched < 120, "no checkpoint was written"
        time.sleep(0.002)
    if process.poll() is not None:  # it finished (or failed) before the kill
      assert process.returncode == 0, process.stderr.read().decode()[-3000:]
      break
    saving = bool(_saves_in_flight(workdir) - leftovers)
    process.kill()
    process.wait()
    process.stderr.close()
    kills += 1
    mid_save += saving
  print(f"{kills} SIGKILLs, {mid_save} of them while a checkpoint was being written")
  assert kills >= 20, f"the run finished after only {kills} kills: give it more steps"
  assert mid_save >= 5, f"only {mid_save} kills landed in a save"
  finished = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
  assert finished.returncode == 0, finished.stderr[-3000:]
  config = tiny_ring_config(
    num_steps=num_steps,
    checkpoint_every=2,
    eval_every=10,
    batch_size=32,
    log_every=1,
    **{"eval.num_samples": 100},
  )
  assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()[-3000:]
  reference.stderr.close()
  uninterrupted = _restore(tmp_path / "uninterrupted", config)
  killed = _restore(workdir, config)
  assert not (workdir / "checkpoints_corrupt").exists()  # no kill damaged a committed checkpoint
  assert int(killed.step) == num_steps
  for a, b in zip(_leaves(killed), _leaves(uninterrupted), strict=True):
    np.testing.assert_array_equal(a, b)
  records = _records(workdir)
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, num_steps + 1))
  assert [r["step"] for r in records if "eval/modes" in r] == list(range(10, num_steps + 1, 10))
  assert records == sorted(records, key=lambda r: r["step"])
  assert json.loads((workdir / "config.json").read_text())["num_steps"] == num_steps
