"""Runs that survive: signals save and stop, resumed logs hold each step once, NaN stops name the
update that went wrong, and SIGKILLs at chosen moments (start-up, between steps, mid-save) change
nothing about the final parameters. No assertion here depends on the speed of the machine: what
must happen before what is arranged by waiting for events (tests/hang_guard.py)."""

import collections
import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import hang_guard
import jax
import numpy as np
import pytest
from tensorboardX.proto import event_pb2
from test_train import ROOT, tiny_ring_config

from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.run import checkpoint, train
from jaxgen.run.overrides import apply_overrides


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

  def logged_or_exited():
    metrics = workdir / "metrics.jsonl"
    return process.poll() is not None or (metrics.exists() and metrics.read_text())

  hang_guard.wait_until(logged_or_exited, "the run, on its way to its first logged step")
  assert process.poll() is None, process.communicate()[1][-3000:]
  process.send_signal(signal.SIGTERM)
  try:
    _, stderr = process.communicate(timeout=hang_guard.HANG_GUARD_S)
  except subprocess.TimeoutExpired as error:
    process.kill()
    process.communicate()
    raise AssertionError(hang_guard.message("the run stopping on SIGTERM")) from error
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
  filler, clean, checkpointers = small_disk / "filler", train.phase_batches, []
  init = checkpoint.Checkpointer.__init__

  def record(self, *args, **kwargs):
    init(self, *args, **kwargs)
    checkpointers.append(self)

  def filling(dataset, config, step, num_phases):
    # The prefetch thread builds step t's batches while step t - 1 runs.
    if step == 6 and not filler.exists():  # after checkpoint 4 committed, before checkpoint 8
      hang_guard.wait_until(  # the save of step 4 runs in the background
        lambda: (small_disk / "4").exists(), "the background save of checkpoint 4"
      )
      with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:  # until ENOSPC
          f.write(b"\0" * 4096)
    if step == 10:
      # Step 10's batches (built while step 9 runs) are ready only once the save of checkpoint 8
      # has ended, however slow it is: the poll after step 10 must see its failure, so the run
      # stops before the save of checkpoint 12 could report it.
      (checkpointer,) = checkpointers
      hang_guard.wait_until(
        lambda: not checkpointer.manager.is_saving_in_progress(),
        "the background save of checkpoint 8",
      )
    return clean(dataset, config, step, num_phases)

  monkeypatch.setattr(checkpoint.Checkpointer, "__init__", record)
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
  monkeypatch.setattr(checkpoint.Checkpointer, "__init__", init)
  assert checkpoint.Checkpointer(workdir, keep=3).latest_step() == 4
  filler.unlink()
  monkeypatch.setattr(train, "phase_batches", clean)
  assert int(train.train_and_evaluate(config, workdir).step) == 16


def test_when_every_checkpoint_is_unreadable_the_command_line_says_so_in_one_line(tmp_path):
  workdir, environment = tmp_path / "run", _environment(tmp_path / "cache")
  command = _command(workdir, 2, "--config.checkpoint_every=1", "--config.eval_every=100000")
  hang_guard.run(command, check=True, capture_output=True, env=environment)
  for path in (workdir / "checkpoints").glob("*/state/**/*"):
    if path.is_file():
      path.unlink()
  result = hang_guard.run(command, capture_output=True, text=True, env=environment)
  assert result.returncode == 3, result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("CheckpointError: No usable checkpoint in ")
  assert "step 2 cannot be read" in lines[-1] and "step 1 cannot be read" in lines[-1]
  assert "Traceback" not in result.stderr and len(lines) <= 4, result.stderr
  assert sorted(p.name for p in (workdir / "checkpoints_corrupt").iterdir() if p.is_dir()) == [
    "1",
    "2",
  ]


# --- SIGKILL at chosen moments -------------------------------------------------------------------

PAUSING_TRAIN = ROOT / "tests" / "pausing_train.py"
NUM_STEPS = 40
KILL_FLAGS = ("--config.checkpoint_every=2", "--config.eval_every=10", "--config.log_every=1")

# Where each SIGKILL lands, in order: "launch" the moment the process exists, the others at the
# pause points of tests/pausing_train.py (start-up: import, restore; between steps: step:N; after
# an evaluation: eval:N; mid-save: save:N, its temporary folder on disk). Each point lies past the
# newest checkpoint that can be committed when the kill before it lands (a kill at step:N or eval:N
# leaves checkpoints up to N - 1, one at save:N up to N - 2), so the resumed run always reaches it.
KILLS = (
  *("launch", "import", "restore", "step:1", "save:2", "restore", "step:3", "save:4"),
  *("eval:10", "save:10", "launch", "import", "step:13", "save:16", "restore", "eval:20"),
  *("save:20", "step:24", "save:28", "eval:30", "step:35", "save:38"),
)


def _kill_at(point, workdir, environment, log_path):
  """Launches the command line in `workdir`, SIGKILLs it at `point` once it is there and checks
  that it was; False (and no kill) if the run finished before reaching it."""
  marker = log_path.with_suffix(".marker")
  pausing = {"JAXGEN_TEST_PAUSE_AT": "" if point == "launch" else point}
  with log_path.open("w") as log:
    process = subprocess.Popen(
      [sys.executable, str(PAUSING_TRAIN), *_command(workdir, NUM_STEPS, *KILL_FLAGS)[2:]],
      stdout=subprocess.DEVNULL,
      stderr=log,
      env={**environment, **pausing, "JAXGEN_TEST_PAUSE_MARKER": str(marker)},
    )
  try:
    if point != "launch":
      hang_guard.wait_until(
        lambda: marker.exists() or process.poll() is not None, f"the run on its way to {point}"
      )
      if not marker.exists():  # it exited without pausing
        assert process.returncode == 0, f"{point}: {log_path.read_text()[-3000:]}"
        return False
      _check_paused_at(point, workdir, marker.read_text())
  finally:
    process.kill()
    hang_guard.wait(process)  # before the next launch: the workdir's lock dies with the process
  assert process.returncode == -signal.SIGKILL, f"{point}: {log_path.read_text()[-3000:]}"
  return True


def _check_paused_at(point, workdir, marker):
  """The workdir shows that the paused run is where `point` says."""
  kind, _, step = point.partition(":")
  assert marker.startswith(point), marker
  if kind == "step":  # its record is the last one written; the thread that writes them waits
    assert _records(workdir)[-1]["step"] == int(step), _records(workdir)[-3:]
  elif kind == "eval":
    assert (workdir / f"samples_{int(step):07d}.png").is_file()
  elif kind == "save":  # written into the temporary folder, not committed
    folder = workdir / "checkpoints"
    assert sorted(folder.glob(f"{step}.orbax-checkpoint-tmp*")), sorted(folder.iterdir())
    assert not (folder / step).exists()


def _check_like_uninterrupted(workdir, config, uninterrupted):
  """A finished run: no damaged checkpoint, no leftover save, the uninterrupted run's final
  params bit for bit, every step logged once and in order, evaluations where they belong."""
  killed = _restore(workdir, config)
  assert not (workdir / "checkpoints_corrupt").exists()  # no kill damaged a committed checkpoint
  assert not list((workdir / "checkpoints").glob("*.orbax-checkpoint-tmp*"))
  assert int(killed.step) == NUM_STEPS
  for a, b in zip(_leaves(killed), uninterrupted, strict=True):
    np.testing.assert_array_equal(a, b)
  records = _records(workdir)
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, NUM_STEPS + 1))
  assert [r["step"] for r in records if "eval/modes" in r] == list(range(10, NUM_STEPS + 1, 10))
  assert records == sorted(records, key=lambda r: r["step"])
  assert json.loads((workdir / "config.json").read_text())["num_steps"] == NUM_STEPS


@pytest.mark.slow
def test_sigkills_at_start_up_between_steps_and_mid_save_change_nothing(tmp_path):
  """22 SIGKILLs, each at the moment `KILLS` names (at launch, during start-up, between steps,
  after an evaluation, mid-save), then the run is completed: its final params are bit-identical
  to an uninterrupted run's and every step is logged once. The moments are events the run reaches
  (tests/pausing_train.py stops it there), so neither the number of kills nor where they land
  depends on the speed of the machine."""
  assert len(KILLS) >= 20 and sum(point.startswith("save:") for point in KILLS) >= 5
  environment, logs = _environment(tmp_path / "cache"), tmp_path / "logs"
  logs.mkdir()
  # The reference run goes on beside the kills (they mostly wait on start-ups).
  with (logs / "uninterrupted.txt").open("w") as log:
    reference = subprocess.Popen(
      _command(tmp_path / "uninterrupted", NUM_STEPS, *KILL_FLAGS),
      stdout=subprocess.DEVNULL,
      stderr=log,
      env=environment,
    )
  workdirs, launches, killed = [tmp_path / "killed"], [0], collections.Counter()
  for index, point in enumerate(KILLS):
    while not _kill_at(point, workdirs[-1], environment, logs / f"{index:02d}-{len(workdirs)}.txt"):
      # The run finished before `point`: it is checked below like the others, and the kill is
      # made in a fresh workdir. One that finishes there too never reaches `point` at all.
      assert launches[-1], f"a whole run never reached {point}: tests/pausing_train.py is broken"
      workdirs.append(tmp_path / f"killed-{len(workdirs)}")
      launches.append(0)
    launches[-1] += 1
    killed[point.partition(":")[0]] += 1
  print(f"SIGKILLs: {dict(killed)}, in {len(workdirs)} workdir(s)")
  finished = hang_guard.run(
    _command(workdirs[-1], NUM_STEPS, *KILL_FLAGS),
    capture_output=True,
    text=True,
    env=environment,
  )
  assert finished.returncode == 0, finished.stderr[-3000:]
  assert hang_guard.wait(reference) == 0, (logs / "uninterrupted.txt").read_text()[-3000:]
  config = tiny_ring_config(
    num_steps=NUM_STEPS,
    checkpoint_every=2,
    eval_every=10,
    batch_size=32,
    log_every=1,
    **{"eval.num_samples": 100},
  )
  uninterrupted = _leaves(_restore(tmp_path / "uninterrupted", config))
  for workdir in workdirs:
    _check_like_uninterrupted(workdir, config, uninterrupted)
