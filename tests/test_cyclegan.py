"""CycleGAN: the unpaired two-domain data, the image pool, training with exact resume, config
errors. The players' gradients are checked in `gradient_cases_cyclegan.py`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds
from cyclegan_tiny import tiny_cyclegan_config

from jaxgen import data
from jaxgen.algorithms import cyclegan
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.data import unpaired
from jaxgen.errors import ConfigError
from jaxgen.run import checkpoint, config_check
from jaxgen.run.train import Evaluator, Run


def _rows(images):
  return {row.tobytes() for row in np.asarray(images)}


def test_domains_come_from_disjoint_halves_and_no_pair_is_ever_seen():
  dataset = data.get("unpaired", base="digits", transform="invert_transpose", size=8)
  assert not set(dataset.indices_a) & set(dataset.indices_b)
  base_images = dataset.base._train[0]
  half_a, half_b = _rows(base_images[dataset.indices_a]), _rows(base_images[dataset.indices_b])
  for step in range(0, 200, 7):  # several epochs of both streams
    batch = dataset.batch(0, step, 16)
    back = unpaired.inverse_transform("invert_transpose", batch["image_b"])
    assert _rows(batch["image_a"]) <= half_a
    assert _rows(back) <= half_b  # every B image is the transform of a B-half image, never of A's
    assert not _rows(back) & half_a


def test_batches_are_pure_functions_of_seed_and_step_and_the_streams_differ():
  dataset = data.get("unpaired", size=8)
  first, again = dataset.batch(3, 5, 8), dataset.batch(3, 5, 8)
  for key in first:
    np.testing.assert_array_equal(first[key], again[key])
  # A and B read their halves in different orders: the base indices do not move in step.
  positions = np.arange(40)
  rows_b = unpaired._stream_b(0, positions, dataset.num_examples)
  rows_a = data.base.stream_indices(0, positions, dataset.num_examples)
  assert not np.array_equal(rows_a, rows_b)


@pytest.mark.parametrize("name", sorted(unpaired.TRANSFORMS))
def test_each_transform_variant_is_its_own_inverse(name):
  x = np.random.default_rng(0).uniform(-1, 1, (5, 6, 6, 1)).astype(np.float32)
  for variant, transform in enumerate(unpaired.TRANSFORMS[name]):
    y = transform(x)
    assert not np.allclose(y, x)
    np.testing.assert_array_equal(unpaired.inverse_transform(name, y, variant), x)


def test_invert_transpose_is_minus_the_transposed_image():
  x = np.arange(8, dtype=np.float32).reshape(1, 2, 4, 1)
  np.testing.assert_array_equal(
    unpaired.TRANSFORMS["invert_transpose"][0](x)[0, :, :, 0], -x[0, :, :, 0].T
  )


def test_one_to_many_transform_draws_both_variants_per_image_fixed_by_the_seed():
  dataset = data.get("unpaired", transform="invert_or_invert_transpose", size=8)
  batch = dataset.batch(0, 0, 64)
  assert set(batch["variant_b"]) == {0, 1}
  back = unpaired.apply_transform(dataset.transform, batch["image_b"], batch["variant_b"])
  assert _rows(back) <= _rows(dataset.base._train[0][dataset.indices_b])
  np.testing.assert_array_equal(dataset.batch(0, 0, 64)["variant_b"], batch["variant_b"])
  held = dataset.eval_data(20, seed=1)
  assert held["image_a"].shape == held["image_b"].shape == (20, 8, 8, 1)


def test_unpaired_mnist_through_tfds_mock_data(tmp_path):
  with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
    dataset = data.get("unpaired", base="mnist", transform="invert", data_dir=str(tmp_path))
    batch = dataset.batch(0, 0, 4)
    held = dataset.eval_data()
  assert dataset.example_shape == (28, 28, 1) and dataset.num_classes == 10
  assert data.facts("unpaired", base="mnist", transform="invert").example_shape == (28, 28, 1)
  assert batch["image_a"].shape == batch["image_b"].shape == (4, 28, 28, 1)
  assert held["image_a"].shape[0] == held["image_b"].shape[0] == 6
  assert not set(dataset.indices_a) & set(dataset.indices_b)


@pytest.mark.parametrize(
  ("options", "message"),
  [
    ({"base": "cifar10"}, "Unknown base"),
    ({"transform": "rotate"}, "Unknown transform"),
    ({"base": "mnist", "size": 16}, "size applies to the digits base only"),
    ({"size": 12}, "Unsupported digits size"),
  ],
)
def test_bad_data_options_are_named(options, message):
  with pytest.raises(ValueError, match=message):
    data.facts("unpaired", **options)


def test_pool_fills_first_then_swaps_about_half_and_keeps_what_it_showed():
  pool, count = jnp.zeros((3, 1, 1, 1)), jnp.int32(0)
  fakes = jnp.arange(1.0, 3.0).reshape(2, 1, 1, 1)
  shown, pool, count = cyclegan.query_pool(pool, count, fakes, jax.random.key(0))
  np.testing.assert_array_equal(shown, fakes)  # filling: the fakes themselves
  np.testing.assert_array_equal(pool[:2], fakes)
  assert int(count) == 2
  shown, pool, count = cyclegan.query_pool(
    pool, count, jnp.full((1, 1, 1, 1), 9.0), jax.random.key(1)
  )
  assert float(shown[0, 0, 0, 0]) == 9.0 and float(pool[2, 0, 0, 0]) == 9.0  # the last slot fills
  assert int(count) == 3
  fakes = jnp.arange(10.0, 410.0).reshape(400, 1, 1, 1)
  shown, new_pool, count = cyclegan.query_pool(pool, count, fakes, jax.random.key(2))
  assert int(count) == 3
  swapped = np.asarray(shown != fakes).ravel()
  assert 0.4 < swapped.mean() < 0.6  # probability 1/2 (400 draws: 4 sigma is 0.1)
  # An image shown in place of a fake was in the pool; the pool ends with fakes and old images.
  everything = set(np.asarray(fakes).ravel()) | {1.0, 2.0, 9.0}
  assert set(np.asarray(shown).ravel()) <= everything
  assert set(np.asarray(new_pool).ravel()) <= everything


@pytest.fixture(scope="module")
def tiny_run():
  run = Run(tiny_cyclegan_config())
  return run, jax.jit(make_train_step(run.algorithm))


def _init(run):
  """The run's initial state, built eagerly (jitting an initialiser compiles slowly on XLA:CPU)."""
  first = jax.tree.map(lambda x: jnp.asarray(x[0]), run.batches(0))
  return init_train_state(run.algorithm, jax.random.key(run.config.seed), first)


def test_train_step_updates_all_four_players_and_the_pools(tiny_run):
  run, step = tiny_run
  state = _init(run)
  new, metrics = step(state, run.batches(0))
  for name in ("translator_ab", "translator_ba", "discriminator_a", "discriminator_b"):
    assert np.isfinite(float(metrics[f"{name}/loss"]))
    changed = jax.tree.map(
      lambda x, y: bool(jnp.any(x != y)), state.players[name].params, new.players[name].params
    )
    assert any(jax.tree.leaves(changed)), name
  assert int(new.extra["pool_b"]["count"]) == 3  # batch 4, capacity 3
  assert "discriminator_b/pool" not in metrics  # the pool reaches update_extra, not the log
  np.testing.assert_allclose(metrics["translator_ab/loss"], metrics["translator_ba/loss"])


def test_resume_from_a_checkpoint_is_bit_exact(tiny_run, tmp_path):
  run, step = tiny_run
  straight = _init(run)
  for t in range(4):
    straight, _ = step(straight, run.batches(t))
  half = _init(run)
  for t in range(2):
    half, _ = step(half, run.batches(t))
  saver = checkpoint.Checkpointer(tmp_path, 2)
  saver.save(2, half)
  saver.wait()
  restored = saver.restore_latest(_init(run)).state
  saver.close()
  for t in range(2, 4):
    restored, _ = step(restored, run.batches(t))
  for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(restored), strict=True):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
      a, b = jax.random.key_data(a), jax.random.key_data(b)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
  ("key", "value", "message"),
  [
    ("algorithm.pool_size", -1, r"algorithm\.pool_size = -1"),
    ("algorithm.cycle_weight", -10.0, r"algorithm\.cycle_weight = -10\.0"),
    ("algorithm.identity_weight", -0.5, r"algorithm\.identity_weight = -0\.5"),
    ("algorithm.loss", "least_square", r"algorithm\.loss = 'least_square'.*least_squares"),
    ("model.translator.name", "unet", r"model\.translator\.name = 'unet'"),
    ("data.name", "digits", "two unpaired domains"),
    ("algorithm.discriminator_steps", 2, "Unknown config key 'algorithm.discriminator_steps'"),
  ],
)
def test_bad_config_values_are_named(key, value, message):
  config = tiny_cyclegan_config()
  if key == "data.name":
    config.data.options = {"size": 8}
  section = config
  *path, leaf = key.split(".")
  for part in path:
    section = section[part]
  section[leaf] = value
  with pytest.raises(ConfigError, match=message):
    config_check.check_config(config)


def test_translator_keeps_the_shape_and_the_range():
  config = tiny_cyclegan_config()
  dataset = data.get("unpaired", **dict(config.data.options))
  algorithm = cyclegan.CycleGAN(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 4).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  out = algorithm.translate(state, batch["image_a"], "translator_ab")
  assert out.shape == batch["image_a"].shape
  assert float(jnp.max(jnp.abs(out))) <= 1.0


def test_samples_are_translations_of_held_out_domain_a_images(tiny_run):
  run, _ = tiny_run
  state = _init(run)
  samples = run.sample(state, 5, seed=3)
  held_out = jnp.asarray(run.dataset.eval_data()["image_a"])
  translations = run.algorithm.translate(state, held_out, "translator_ab")
  # Each sample is G(a) of some held-out a (instance norm keeps samples apart in a batch).
  for sample in samples:
    distances = jnp.max(jnp.abs(translations - sample), axis=(1, 2, 3))
    assert float(jnp.min(distances)) < 1e-5
  assert samples.shape == (5, *run.algorithm.example_shape)


def test_translation_evaluator_scores_and_draws_the_held_out_images(tiny_run, tmp_path):
  """The config's "translation" evaluator translates held-out images of both domains and back;
  without an extractor it scores the cycle errors only. The algorithm keeps no data set."""
  run, _ = tiny_run
  state = _init(run)
  assert [evaluation.name for evaluation in run.evaluations] == ["translation"]
  assert "dataset" not in vars(run.algorithm)  # the run's sampler hands `sample` its arrays
  scores = Evaluator(run)(state, 3, tmp_path)
  held = run.dataset.eval_data(run.config.eval.num_samples, seed=run.config.seed + 1)
  g = lambda x: np.asarray(run.algorithm.translate(state, x, "translator_ab"))
  f = lambda x: np.asarray(run.algorithm.translate(state, x, "translator_ba"))
  a, b = held["image_a"], held["image_b"]
  assert set(scores) == {"eval/cycle_error_a", "eval/cycle_error_b"}
  np.testing.assert_allclose(scores["eval/cycle_error_a"], np.mean(np.abs(f(g(a)) - a)), rtol=1e-5)
  np.testing.assert_allclose(scores["eval/cycle_error_b"], np.mean(np.abs(g(f(b)) - b)), rtol=1e-5)
  assert (tmp_path / "samples_0000003.png").stat().st_size > 1000
