"""`config.steps_per_call`: N train steps in one compiled call, with the loop's guarantees intact
(exact resume, logs of every step, the NaN stop naming its step, evaluation and checkpoints on
their steps) and the loop's terminal output (one line per logged step off a terminal; the
"resumed from" line)."""

import json
import os
import sys

import hang_guard
import jax
import numpy as np
import pytest
from test_train import tiny_ring_config

from jaxgen.errors import ConfigError
from jaxgen.run import checkpoint, train


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state.players)]


def _losses(workdir):
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return {r["step"]: r["generator/loss"] for r in records if "generator/loss" in r}


def test_calls_of_four_steps_match_single_steps_and_log_every_step(tmp_path):
  config = tiny_ring_config(steps_per_call=4, eval_every=8, checkpoint_every=4, num_steps=10)
  run = train.Run(config)
  # Calls start at multiples of 4; steps 8 and 9 (a call would pass num_steps) run alone.
  assert [run.steps_in_call(s) for s in (0, 1, 4, 7, 8, 9)] == [4, 1, 4, 1, 1, 1]
  scanned = train.train_and_evaluate(config, tmp_path / "scan")
  single = train.train_and_evaluate(tiny_ring_config(num_steps=10), tmp_path / "single")
  # The same steps in another compiled program: equal to float32 rounding (bit-equal here).
  for a, b in zip(_leaves(scanned), _leaves(single), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  scan_losses, single_losses = _losses(tmp_path / "scan"), _losses(tmp_path / "single")
  assert sorted(scan_losses) == list(range(1, 11))  # log_every=1: every step of every call
  np.testing.assert_allclose(
    [scan_losses[s] for s in range(1, 11)], [single_losses[s] for s in range(1, 11)], rtol=1e-5
  )
  steps = sorted(
    int(p.name) for p in (tmp_path / "scan" / "checkpoints").iterdir() if p.name.isdigit()
  )
  assert steps == [4, 8, 10]  # keep_checkpoints=3
  assert (tmp_path / "scan" / "samples_0000008.png").exists()


def test_resume_is_exact(tmp_path, capsys):
  """From a checkpoint on a call boundary (8): bit-exact. From one between calls (6, the end of
  the first leg): steps 6 and 7 then run alone where the uninterrupted run has them in the call of
  steps 4..7, so equal to float32 rounding."""
  config = lambda n: tiny_ring_config(
    steps_per_call=4, eval_every=400, checkpoint_every=4, num_steps=n
  )
  whole = _leaves(train.train_and_evaluate(config(12), tmp_path / "whole"))
  for first_leg in (8, 6):
    workdir = tmp_path / f"legs{first_leg}"
    train.train_and_evaluate(config(first_leg), workdir)
    capsys.readouterr()
    resumed = _leaves(train.train_and_evaluate(config(12), workdir))
    checkpoint_dir = workdir / "checkpoints" / str(first_leg)
    assert f"resumed from step {first_leg} ({checkpoint_dir})" in capsys.readouterr().err
    for a, b in zip(resumed, whole, strict=True):
      if first_leg == 8:
        np.testing.assert_array_equal(a, b)
      else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_non_finite_step_inside_a_call_is_named(tmp_path, monkeypatch):
  clean = train.phase_batches

  def poisoned(dataset, config, step, num_phases):
    batches = clean(dataset, config, step, num_phases)
    if step >= 9:  # the second step of the call running steps 8..11 (steps done: 9, 10)
      batches["x"] = np.full_like(batches["x"], np.nan)
    return batches

  monkeypatch.setattr(train, "phase_batches", poisoned)
  config = tiny_ring_config(steps_per_call=4, eval_every=400, checkpoint_every=8, num_steps=16)
  with pytest.raises(
    train.NonFiniteError,
    match=r"step 10: the update of player 'discriminator'.*last checkpoint is step 8",
  ):
    train.train_and_evaluate(config, tmp_path)
  assert checkpoint.Checkpointer(tmp_path, keep=3).latest_step() == 8


@pytest.mark.parametrize("key", ["eval_every", "checkpoint_every"])
def test_periods_must_be_multiples_of_steps_per_call(tmp_path, key):
  config = tiny_ring_config(steps_per_call=4, eval_every=8, checkpoint_every=8)
  config[key] = 6
  with pytest.raises(ConfigError, match=rf"{key} = 6 is not a multiple of steps_per_call = 4"):
    train.train_and_evaluate(config, tmp_path)


def test_steps_per_call_must_be_positive(tmp_path):
  with pytest.raises(ConfigError, match="steps_per_call"):
    train.train_and_evaluate(tiny_ring_config(steps_per_call=0), tmp_path)


def test_off_a_terminal_the_progress_is_one_line_per_logged_step(tmp_path, capsys):
  config = tiny_ring_config(num_steps=12, log_every=4, eval_every=400, progress_bar=True)
  train.train_and_evaluate(config, tmp_path)
  err = capsys.readouterr().err  # captured: not a TTY
  lines = [line for line in err.splitlines() if line.startswith("gan on ring8: step ")]
  assert [line.split()[4] for line in lines] == ["4/12", "8/12", "12/12"]
  assert all("generator=" in line and "steps/s)" in line for line in lines)
  assert "\r" not in err  # no bar redraws in a log file
  assert "12 steps in " in err and "compiling 1 train step(s) took " in err


def test_the_command_line_keeps_compiled_steps_on_disk(tmp_path):
  """jaxgen-train enables JAX's persistent compilation cache (JAXGEN_COMPILATION_CACHE names the
  folder), so a resumed run loads its executables instead of compiling them again."""
  from test_train import ROOT  # noqa: PLC0415

  cache = tmp_path / "cache"
  environment = {**os.environ, "JAX_PLATFORMS": "cpu", "JAXGEN_COMPILATION_CACHE": str(cache)}
  environment.pop("JAX_COMPILATION_CACHE_DIR", None)
  command = [
    sys.executable,
    str(ROOT / "scripts" / "train.py"),
    f"--config={ROOT / 'tests' / 'tiny_ring8_config.py'}",
    f"--workdir={tmp_path / 'run'}",
    "--config.num_steps=2",
    "--config.batch_size=32",
    "--config.eval.num_samples=100",
  ]
  result = hang_guard.run(command, env=environment, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  assert any(path.is_file() for path in cache.rglob("*")), "nothing was cached"


def test_a_workdir_resumes_with_another_steps_per_call(tmp_path):
  """steps_per_call groups the same steps into calls: changing it (or a record from before it
  existed) is no different experiment."""
  config = tiny_ring_config()
  before = json.loads(config.to_json_best_effort(sort_keys=True))
  del before["steps_per_call"]
  checkpoint.check_config_matches(tmp_path, json.dumps(before))
  config.steps_per_call = 4
  checkpoint.check_config_matches(tmp_path, config.to_json_best_effort(sort_keys=True))
  config.seed = 1
  with pytest.raises(ConfigError, match="different config"):
    checkpoint.check_config_matches(tmp_path, config.to_json_best_effort(sort_keys=True))


def _wide_ring_config(**overrides):
  """The tiny ring8 config with 64-wide MLPs: XLA leaves dots of 16-wide layers out of YNNPACK."""
  config = tiny_ring_config(**overrides)
  config.model.generator = {"name": "mlp", "hidden": (64, 64), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (64, 64), "maxout_pieces": 2}
  return config


def test_individual_cpu_dot_fusion_compiles_other_dots_to_the_same_training(tmp_path):
  """`cpu_dot_fusion = "individual"`: each dot a YNNPACK call of its own (parallel.py). The train
  step is compiled with the option (fewer, dot-only library fusions: 184 -> 94 here), trains to
  the same params within float32 rounding, and a workdir resumes with either value."""
  fusions, trained = {}, {}
  for name in ("default", "individual"):
    run = train.Run(_wide_ring_config(cpu_dot_fusion=name))
    batches = jax.device_put(run.batches(0))
    compiled = run.train_step_at(0).lower(run.init_state(), batches).compile()
    fusions[name] = compiled.as_text().count("ynn_fusion")
    trained[name] = train.train_and_evaluate(run.config, tmp_path / name)
  assert fusions["individual"] < fusions["default"], fusions
  for a, b in zip(_leaves(trained["default"]), _leaves(trained["individual"]), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
  config = _wide_ring_config(cpu_dot_fusion="individual")
  checkpoint.check_config_matches(tmp_path / "default", config.to_json_best_effort(sort_keys=True))
  with pytest.raises(ConfigError, match="cpu_dot_fusion = 'fast' is not one of"):
    train.Run(tiny_ring_config(cpu_dot_fusion="fast"))
