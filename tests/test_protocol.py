"""The algorithm protocol: every algorithm declares what the loop calls, owned state reads named
values, and the evaluation follows the algorithm's declaration."""

import importlib
from pathlib import Path

import jax
import numpy as np
import pytest
import tiny_ring8_config

from jaxgen import algorithms, data, evaluators
from jaxgen.algorithms import wae
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Evaluation,
  Player,
  init_train_state,
  make_train_step,
)
from jaxgen.configs import began_ring8
from jaxgen.data.base import handed_data
from jaxgen.run import train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
  path.stem
  for path in (ROOT / "jaxgen" / "configs").glob("*.py")
  if path.stem.endswith(("_ring8", "_grid25", "_digits"))  # no download needed
)
POINT_KEYS = {"eval/modes", "eval/high_quality", "eval/reverse_kl"}
IMAGE_KEYS = {
  f"eval/{k}"
  for k in (
    "fid",
    "kid",
    "kid_std",
    "inception_score",
    "inception_score_std",
    "precision",
    "recall",
  )
}


def build(config_name, **algorithm_options):
  config = importlib.import_module(f"jaxgen.configs.{config_name}").get_config()
  config.algorithm.update(algorithm_options)
  dataset = data.get(config.data.name, **dict(config.data.get("options", {})))
  return (
    config,
    dataset,
    algorithms.get(config.algorithm.name)(
      config, handed_data(dataset, config.seed, config.batch_size)
    ),
  )


def test_every_registered_algorithm_derives_from_the_base():
  classes = [cls for cls in algorithms.ALGORITHMS.values() if isinstance(cls, type)]
  classes += list(wae.PENALTIES.values())  # "wae" is a factory of these
  assert len(classes) == len(algorithms.ALGORITHMS) + 1
  for cls in classes:
    assert issubclass(cls, AlgorithmBase), cls


def test_every_config_builds_an_algorithm_that_declares_the_whole_protocol():
  built = {}
  for name in CONFIGS:
    config, dataset, algorithm = build(name)
    built.setdefault(config.algorithm.name, algorithm)
  _, _, built["wae/gan"] = build("wae_digits", penalty="gan")
  assert set(algorithms.ALGORITHMS) <= set(built)
  for name, algorithm in built.items():
    assert isinstance(algorithm, AlgorithmBase), name
    assert all(isinstance(p, Player) and p.name == n for n, p in algorithm.players.items()), name
    scheduled = {player for phase in algorithm.schedule for player in phase}
    assert scheduled == set(algorithm.players), name
    assert isinstance(algorithm.num_classes, int) and algorithm.num_classes >= 0, name
    for method in ("init_variables", "sample", "init_extra", "constrain", "update_extra"):
      assert callable(getattr(algorithm, method)), (name, method)
    for evaluation in algorithm.EVALUATORS:  # its default evaluators, chosen by name
      assert isinstance(evaluation, Evaluation) and evaluation.name in evaluators.EVALUATORS, name
  assert built["cyclegan"].EVALUATORS == (Evaluation("translation"),)


def test_the_base_defaults_keep_state_and_params_as_they_are():
  _, _, vae = build("vae_digits")
  assert vae.init_extra() == {}
  params = {"w": np.ones(3)}
  assert vae.constrain("decoder", params) is params
  state = train.TrainState(np.int32(0), jax.random.key(0), {}, {"a": 1})
  assert vae.update_extra(state, {"decoder": {"loss": 0.0}}) is state.extra


@pytest.mark.parametrize("path", [*sorted((ROOT / "jaxgen" / "algorithms").glob("*.py"))])
def test_no_hasattr_hooks(path):
  assert "hasattr(" not in path.read_text(), path


def test_train_loop_has_no_hasattr_hooks():
  assert "hasattr(" not in (ROOT / "jaxgen" / "run" / "train.py").read_text()


def test_began_k_follows_the_closed_form_update_from_the_logged_energies():
  """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1) (Berthelot et al. 2017, eq. 4),
  by hand from the energies the generator logs, over a few steps on ring8."""
  config = began_ring8.get_config()
  config.batch_size = 32
  config.algorithm.gamma = 1.0  # gamma L(x) > L(G(z)) at the start here, so k leaves 0
  config.model.generator = {"name": "mlp", "hidden": (16, 16), "batch_norm": True}
  config.model.discriminator = {"name": "autoencoder", "hidden": (16,), "code_dim": 2}
  dataset = data.get("ring8")
  algorithm = algorithms.get("began")(config, dataset)
  first = jax.tree.map(lambda x: x[0], train.phase_batches(dataset, config, 0, 1))
  state = init_train_state(algorithm, jax.random.key(0), first)
  step = jax.jit(make_train_step(algorithm))
  gamma, lambda_k = np.float32(config.algorithm.gamma), np.float32(config.algorithm.lambda_k)
  ks = [np.asarray(state.extra["k"])]
  for t in range(5):
    state, metrics = step(state, train.phase_batches(dataset, config, t, 1))
    metrics = jax.device_get(metrics)
    assert metrics["discriminator/k"] == ks[-1]  # D's loss used k_t
    real, fake = metrics["generator/real_energy"], metrics["generator/fake_energy"]
    expected = np.clip(ks[-1] + lambda_k * (gamma * real - fake), 0.0, 1.0)
    ks.append(np.asarray(state.extra["k"]))
    np.testing.assert_allclose(ks[-1], expected, rtol=1e-6, atol=0)
  assert ks[0] == 0.0 and np.all(np.diff(ks) > 0)


def _run(config, **overrides):
  apply_overrides(config, {"eval.num_samples": 100, "batch_size": 32, **overrides})
  run = train.Run(config)
  return run, run.init_state()


def test_evaluator_scores_a_ring8_gan_as_points(tmp_path):
  run, state = _run(tiny_ring8_config.get_config())
  assert set(train.Evaluator(run)(state, 3, tmp_path)) == POINT_KEYS
  assert (tmp_path / "samples_0000003.png").stat().st_size > 1000


def _digits_run(**overrides):
  from jaxgen.configs import dcgan_digits  # noqa: PLC0415

  config = dcgan_digits.get_config()
  config.model.generator = {"name": "dcgan", "base_features": 8}
  config.model.discriminator = {"name": "dcgan", "base_features": 8}
  return _run(config, **{"eval.num_reference": 100, **overrides})


def test_evaluator_scores_a_digits_gan_as_images_with_the_extractor(tmp_path):
  run, state = _digits_run()
  assert set(train.Evaluator(run)(state, 3, tmp_path)) == IMAGE_KEYS
  assert (tmp_path / "samples_0000003.png").stat().st_size > 1000
