"""The one training loop: outputs, exact resumption after a kill, non-finite stops, bad input."""

import json
import os
import sys
from pathlib import Path

import hang_guard
import jax
import numpy as np
import pytest
import tiny_ring8_config

from jaxgen.run import checkpoint, train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
TINY_OVERRIDES = {
  "batch_size": 32,
  "num_steps": 12,
  "eval_every": 6,
  "checkpoint_every": 6,
  "log_every": 1,
  "progress_bar": False,
  "eval.num_samples": 200,
}


def override(config, overrides):
  """Sets dotted keys, e.g. {"eval.num_samples": 10}, with the checks of the command line."""
  apply_overrides(config, overrides)
  return config


def tiny_ring_config(**overrides):
  return override(tiny_ring8_config.get_config(), {**TINY_OVERRIDES, **overrides})


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(state.players)]


def test_run_writes_checkpoints_logs_events_and_pictures(tmp_path):
  train.train_and_evaluate(tiny_ring_config(), tmp_path)
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()) == [
    "12",
    "6",
  ]
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, 13))
  assert any("eval/modes" in r for r in records)
  assert all(np.isfinite(r["discriminator/loss"]) for r in records if "discriminator/loss" in r)
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  for name in ("samples_0000006.png", "samples_0000012.png", "losses.png", "eval_metrics.png"):
    assert (tmp_path / name).stat().st_size > 1000, name


def test_one_dimensional_data_trains_and_is_drawn_as_a_histogram(tmp_path):
  config = tiny_ring_config(num_steps=6, eval_every=6, checkpoint_every=6)
  config.data.name, config.data.options = "gaussian1d", {"mean": 1.0, "std": 0.5}
  config.model.latent_dim = 1
  train.train_and_evaluate(config, tmp_path)
  assert (tmp_path / "samples_0000006.png").stat().st_size > 1000
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "generator/loss" in r] == list(range(1, 7))
  assert not any("eval/modes" in r for r in records)  # no mixture centres: no mode count


def test_rerun_with_more_steps_continues_from_the_checkpoint(tmp_path):
  train.train_and_evaluate(tiny_ring_config(num_steps=6), tmp_path)
  resumed = train.train_and_evaluate(tiny_ring_config(num_steps=12), tmp_path)
  fresh = train.train_and_evaluate(tiny_ring_config(num_steps=12), tmp_path / "fresh")
  assert int(resumed.step) == 12
  for a, b in zip(_leaves(resumed), _leaves(fresh), strict=True):
    np.testing.assert_array_equal(a, b)


def _command(workdir, num_steps):
  args = [
    sys.executable,
    str(ROOT / "scripts" / "train.py"),
    f"--config={Path(__file__).parent / 'tiny_ring8_config.py'}",
    f"--workdir={workdir}",
    f"--config.num_steps={num_steps}",
    "--config.checkpoint_every=20",
    "--config.eval_every=1000000",
    "--config.batch_size=32",
    "--config.progress_bar=False",
    "--config.eval.num_samples=100",
  ]
  return args


def test_non_finite_loss_stops_with_step_and_player_and_keeps_last_checkpoint(
  tmp_path, monkeypatch
):
  clean = train.phase_batches

  def poisoned(dataset, config, step, num_phases):
    batches = clean(dataset, config, step, num_phases)
    if step >= 8:
      batches["x"] = np.full_like(batches["x"], np.nan)
    return batches

  monkeypatch.setattr(train, "phase_batches", poisoned)
  with pytest.raises(
    train.NonFiniteError,
    match=r"step 9: the update of player 'discriminator'.*last checkpoint is step 6",
  ):
    train.train_and_evaluate(tiny_ring_config(), tmp_path)
  checkpointer = checkpoint.Checkpointer(tmp_path, keep=3)
  assert checkpointer.latest_step() == 6
  restored = checkpointer.restore(train.Run(tiny_ring_config()).init_state())
  assert all(np.all(np.isfinite(x)) for x in _leaves(restored))


def test_workdir_of_a_different_config_is_refused(tmp_path):
  train.train_and_evaluate(tiny_ring_config(num_steps=2), tmp_path)
  with pytest.raises(ValueError, match=r"different config.*algorithm.loss"):
    train.train_and_evaluate(
      tiny_ring_config(num_steps=4, **{"algorithm.loss": "minimax"}), tmp_path
    )


@pytest.mark.parametrize(
  "key, value, message",
  [
    ("algorithm.name", "vae-gan-9000", "algorithm.name = 'vae-gan-9000'.*Did you mean 'vaegan'"),
    ("data.name", "imagenet-22k", "imagenet-22k.*ring8"),
    ("batch_size", 0, "batch_size"),
  ],
)
def test_bad_config_values_are_named(tmp_path, key, value, message):
  with pytest.raises(ValueError, match=message):
    train.train_and_evaluate(tiny_ring_config(**{key: value}), tmp_path)


def test_unknown_config_key_on_the_command_line_is_an_error(tmp_path):
  result = hang_guard.run(
    _command(tmp_path, 2) + ["--config.num_stepz=5"],
    capture_output=True,
    text=True,
    env={**os.environ, "JAX_PLATFORMS": "cpu"},
  )
  assert result.returncode != 0
  assert "num_stepz" in result.stderr


def test_image_run_scores_fid_and_evaluate_script_writes_the_table(tmp_path):
  from jaxgen.configs import dcgan_digits

  config = dcgan_digits.get_config()
  config.model.generator = {"name": "dcgan", "base_features": 8}
  config.model.discriminator = {"name": "dcgan", "base_features": 8}
  override(
    config,
    {
      **TINY_OVERRIDES,
      "num_steps": 4,
      "eval_every": 4,
      "checkpoint_every": 4,
      "eval.num_samples": 100,
    },
  )
  train.train_and_evaluate(config, tmp_path)
  last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  assert last["step"] == 4 and last["eval/fid"] > 0 and 1 <= last["eval/inception_score"] <= 10
  result = hang_guard.run(
    [sys.executable, str(ROOT / "scripts" / "evaluate.py"), f"--workdir={tmp_path}"],
    capture_output=True,
    text=True,
  )
  assert result.returncode == 0, result.stderr[-2000:]
  (scores,) = json.loads((tmp_path / "evaluation.json").read_text())
  assert scores["step"] == 4 and scores["extractor"] == "digits_classifier"
  assert {"fid", "kid", "inception_score", "precision", "recall"} <= set(scores)
  np.testing.assert_allclose(scores["fid"], last["eval/fid"], rtol=1e-6)  # same samples, same net
  assert "| step | num_samples | extractor | fid |" in (tmp_path / "evaluation.md").read_text()
  # Another step adds a record; the same step and settings again replace theirs.
  config.num_steps, config.checkpoint_every = 6, 2
  train.train_and_evaluate(config, tmp_path)
  for step in ("4", "6", "6"):
    result = hang_guard.run(
      [sys.executable, str(ROOT / "scripts" / "evaluate.py"), f"--workdir={tmp_path}"]
      + [f"--step={step}"],
      capture_output=True,
      text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
  records = json.loads((tmp_path / "evaluation.json").read_text())
  assert [r["step"] for r in records] == [4, 6]
  assert records[0] == scores  # step 4 scored again: the same samples, the same record
  table = (tmp_path / "evaluation.md").read_text().splitlines()
  assert [row.split(" | ")[0] for row in table[2:]] == ["| 4", "| 6"]


def test_conditional_dcgan_on_tfds_mnist_trains_through_mock_data(tmp_path):
  import tensorflow_datasets as tfds

  from jaxgen.configs import dcgan_mnist

  config = dcgan_mnist.get_config()
  config.conditional = True
  config.data.options.data_dir = str(tmp_path / "tfds")
  config.model.generator = {"name": "dcgan", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4}
  override(
    config,
    {
      **TINY_OVERRIDES,
      "num_steps": 2,
      "eval_every": 2,
      "checkpoint_every": 2,
      "batch_size": 8,
      "eval.num_samples": 20,
    },
  )
  with tfds.testing.mock_data(num_examples=16, policy=tfds.testing.MockPolicy.USE_CODE):
    state = train.train_and_evaluate(config, tmp_path / "run")
  assert int(state.step) == 2
  assert (tmp_path / "run" / "samples_0000002.png").exists()
