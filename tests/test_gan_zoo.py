"""The GAN family as algorithms: every objective runs on ring8 and digits; the unrolled GAN against
finite differences; ACGAN, InfoGAN, BEGAN and MAD-GAN's players and state."""

import importlib
import importlib.util
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data, losses, metrics
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.configs import gan_zoo_ring8, unrolled_ring8
from jaxgen.run import train

ZOO_CONFIGS = [
  "gan_zoo_ring8",
  "wgan_ring8",
  "wgan_gp_ring8",
  "dragan_ring8",
  "lsgan_ring8",
  "hinge_ring8",
  "r1_ring8",
  "unrolled_ring8",
  "pacgan_ring8",
  "madgan_ring8",
  "ebgan_ring8",
  "began_ring8",
  "acgan_digits",
  "infogan_digits",
]


def tiny(config_name, data_name):
  """The config at toy size: a few units, 8x8 digits, a batch of 16 (32 for PacGAN's pairs), one
  critic step and one unrolled step (each extra step is a copy of the program to compile)."""
  config = importlib.import_module(f"jaxgen.configs.{config_name}").get_config()
  config.algorithm.discriminator_steps = 1
  if "unroll_steps" in config.algorithm:
    config.algorithm.unroll_steps = 1
  config.batch_size = 32 if config_name.startswith("pacgan") else 16
  config.data.name = data_name
  config.data.options = {"size": 8} if data_name == "digits" else {}
  autoencoder = config.model.discriminator.name == "autoencoder"
  if data_name == "ring8":
    config.model.generator = {"name": "mlp", "hidden": (8, 8), "batch_norm": True}
    config.model.discriminator = (
      {"name": "autoencoder", "hidden": (8,), "code_dim": 2}
      if autoencoder
      else {"name": "mlp", "hidden": (8, 8), "maxout_pieces": 2}
    )
  else:
    config.model.generator = {"name": "dcgan", "base_features": 4}
    config.model.discriminator = (
      {"name": "autoencoder", "hidden": (4,), "code_dim": 2}
      if autoencoder
      else {"name": "dcgan", "base_features": 4, "norm": "layer"}
    )
  return config


# Three steps need no optimised code: XLA's cheapest compile roughly halves these tests' time.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@pytest.mark.parametrize("data_name", ["ring8", pytest.param("digits", marks=pytest.mark.slow)])
@pytest.mark.parametrize("config_name", ZOO_CONFIGS)
def test_every_objective_runs_three_finite_steps(config_name, data_name):
  config = tiny(config_name, data_name)
  dataset = data.get(data_name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  phases = len(algorithm.schedule)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, config.batch_size).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  batches = jax.tree.map(lambda x: jnp.stack([x] * phases), batch)
  step = jax.jit(make_train_step(algorithm)).lower(state, batches).compile(FAST_COMPILE)
  for t in range(3):
    batches = {
      k: jnp.stack([jnp.asarray(v)] * phases)
      for k, v in dataset.batch(0, t, config.batch_size).items()
    }
    state, step_metrics = step(state, batches)
    for name, value in step_metrics.items():
      assert np.all(np.isfinite(value)), (t, name, value)
    assert all(map(bool, step_metrics.health.finite.values())), (t, step_metrics.health.finite)
    assert int(step_metrics.health.first_nonfinite_update) == -1, t
  assert np.all(np.isfinite(algorithm.sample(state, jax.random.key(1), 4)))


# --- the unrolled GAN ----------------------------------------------------------------------------


def unrolled_setup(unroll_steps, dtype=jnp.float32):
  config = gan_zoo_ring8.get_config()
  config.algorithm.name = "unrolled"
  config.algorithm.loss = "minimax"
  config.algorithm.unroll_steps = unroll_steps
  config.batch_size = 8
  config.model.generator = {"name": "mlp", "hidden": (6,), "batch_norm": False}
  config.model.discriminator = {"name": "mlp", "hidden": (6,), "maxout_pieces": 0}
  config.optimizer.discriminator = {"name": "sgd", "learning_rate": 0.5}
  dataset = data.get("ring8")
  algorithm = algorithms.get("unrolled")(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 8).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  cast = lambda tree: jax.tree.map(lambda x: x.astype(dtype), tree)
  state = state.replace(
    players={n: p.replace(params=cast(p.params)) for n, p in state.players.items()}
  )
  return algorithm, state, {"x": batch["x"].astype(dtype), "y": batch["y"]}


def test_zero_unrolling_steps_is_the_plain_gan():
  algorithm, state, batch = unrolled_setup(0)
  rng = jax.random.key(5)
  unrolled, _, _ = algorithm.generator_grads(state, batch, rng)
  plain, _, _ = algorithms.GAN.generator_grads(algorithm, state, batch, rng)
  for a, b in zip(jax.tree.leaves(unrolled), jax.tree.leaves(plain), strict=True):
    np.testing.assert_array_equal(a, b)


def test_unrolling_changes_the_generator_gradient_but_not_the_discriminator_update():
  algorithm, state, batch = unrolled_setup(3)
  rng = jax.random.key(5)
  unrolled, _, _ = algorithm.generator_grads(state, batch, rng)
  plain, _, _ = algorithms.GAN.generator_grads(algorithm, state, batch, rng)
  assert not all(
    np.allclose(a, b)
    for a, b in zip(jax.tree.leaves(unrolled), jax.tree.leaves(plain), strict=True)
  )
  d_unrolled, _, _ = algorithm.discriminator_grads(state, batch, rng)
  d_plain, _, _ = algorithms.GAN.discriminator_grads(algorithm, state, batch, rng)
  for a, b in zip(jax.tree.leaves(d_unrolled), jax.tree.leaves(d_plain), strict=True):
    np.testing.assert_array_equal(a, b)


EPS = 1e-6  # central differences in float64: truncation ~EPS^2, round-off ~1e-16 / EPS


def test_unrolling_through_adam_needs_eps_root():
  config = unrolled_ring8.get_config()
  config.optimizer.discriminator.eps_root = 0.0
  with pytest.raises(ValueError, match="eps_root"):
    algorithms.get("unrolled")(config, data.get("ring8"))


# --- ACGAN, InfoGAN, BEGAN, MAD-GAN --------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_zoo():
  """ACGAN and InfoGAN on 8x8 digits, initialised."""
  built = {}
  for name in ("acgan_digits", "infogan_digits"):
    config = tiny(name, "digits")
    dataset = data.get("digits", size=8)
    algorithm = algorithms.get(config.algorithm.name)(config, dataset)
    batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 16).items()}
    built[name] = (algorithm, init_train_state(algorithm, jax.random.key(0), batch), batch)
  return built


def test_acgan_class_loss_is_the_cross_entropy_of_d_class_head_on_the_fakes(digits_zoo):
  algorithm, state, batch = digits_zoo["acgan_digits"]
  assert algorithm.num_classes == 10
  assert state.players["discriminator"].params["aux_head"]["kernel"].shape[-1] == 10
  rng = jax.random.key(2)
  _, _, g_metrics = algorithm.generator_grads(state, batch, rng)
  g, d = state.players["generator"], state.players["discriminator"]
  fake, _ = algorithm.generator.apply(
    {"params": g.params, **g.model_state},
    algorithm.latents(rng, 16),
    batch["y"],
    train=True,
    mutable=["batch_stats"],
  )
  (_, class_logits), _ = algorithm.discriminator.apply(
    {"params": d.params, **d.model_state}, fake, train=True, mutable=["intermediates"]
  )
  log_p = np.asarray(jax.nn.log_softmax(class_logits))
  np.testing.assert_allclose(
    g_metrics["class_loss"], -log_p[np.arange(16), batch["y"]].mean(), rtol=1e-5
  )
  samples = algorithm.sample(state, jax.random.key(0), 20)
  assert samples.shape == (20, 8, 8, 1)


def test_infogan_codes_enter_g_and_q_shares_d_body(digits_zoo):
  algorithm, state, batch = digits_zoo["infogan_digits"]
  z = np.asarray(algorithm.latents(jax.random.key(0), 64))
  noise_dim = algorithm.latent_dim
  assert z.shape == (64, noise_dim + 12)
  one_hot = z[:, noise_dim : noise_dim + 10]
  np.testing.assert_array_equal(one_hot.sum(axis=1), 1.0)
  assert np.all(np.abs(z[:, noise_dim + 10 :]) <= 1.0)
  d_params = state.players["discriminator"].params
  assert d_params["aux_head"]["kernel"].shape[-1] == 12  # Q: 10 logits + 2 means
  grads, _, d_metrics = algorithm.discriminator_grads(state, batch, jax.random.key(1))
  assert np.any(grads["aux_head"]["kernel"] != 0)  # Q learns from D's player
  assert float(d_metrics["mutual_information"]) <= math.log(10) + 2 * math.log(2.0)
  codes = jnp.arange(4)
  a = algorithm.sample_from_codes(state, jax.random.key(0), codes, jnp.zeros((4, 2)))
  b = algorithm.sample_from_codes(state, jax.random.key(0), (codes + 1) % 10, jnp.zeros((4, 2)))
  assert not np.allclose(a, b)


def test_began_keeps_k_in_train_state_extra_and_updates_it_by_the_paper_formula():
  config = tiny("began_ring8", "ring8")
  dataset = data.get("ring8")
  algorithm = algorithms.get("began")(config, dataset)
  assert algorithm.schedule == (("discriminator", "generator"),)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 16).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  assert float(state.extra["k"]) == 0.0  # k_0 = 0
  fixed = {"generator": {"real_energy": jnp.float32(0.8), "fake_energy": jnp.float32(0.2)}}
  extra = algorithm.update_extra(state.replace(extra={"k": jnp.float32(0.3)}), fixed)
  np.testing.assert_allclose(extra["k"], 0.3 + 1e-3 * (0.5 * 0.8 - 0.2), rtol=1e-6)
  state, step_metrics = jax.jit(make_train_step(algorithm))(
    state, jax.tree.map(lambda x: x[None], batch)
  )
  real, fake = step_metrics["generator/real_energy"], step_metrics["generator/fake_energy"]
  np.testing.assert_allclose(
    step_metrics["generator/m_global"], real + abs(0.5 * real - fake), rtol=1e-5
  )
  np.testing.assert_allclose(
    state.extra["k"], np.clip(1e-3 * (0.5 * real - fake), 0, 1), rtol=1e-5, atol=1e-9
  )


def test_madgan_has_k_generator_players_and_a_k_plus_one_class_discriminator():
  config = tiny("madgan_ring8", "ring8")
  algorithm = algorithms.get("madgan")(config, data.get("ring8"))
  names = tuple(f"generator_{i}" for i in range(4))
  assert set(algorithm.players) == {*names, "discriminator"}
  assert algorithm.schedule == (("discriminator",), names)
  logits, aux = jnp.zeros(3), jnp.ones((3, 4))
  np.testing.assert_array_equal(algorithm.class_logits((logits, aux))[:, -1], 0.0)  # real last
  config.batch_size = 18
  with pytest.raises(ValueError, match="divisible by num_generators"):
    algorithms.get("madgan")(config, data.get("ring8"))


@pytest.mark.slow
def test_madgan_generators_cover_different_modes_of_ring8():
  """The diversity check: after a short run the generators' dominant modes differ."""
  config = tiny("madgan_ring8", "ring8")
  config.batch_size = 64
  config.model.generator = {"name": "mlp", "hidden": (64, 64), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (64, 64), "maxout_pieces": 5}
  for player in ("generator", "discriminator"):
    config.optimizer[player].learning_rate = 1e-3
  dataset = data.get("ring8")
  algorithm = algorithms.get("madgan")(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, 64).items()}
  state = init_train_state(algorithm, jax.random.key(0), batch)
  step = jax.jit(make_train_step(algorithm))
  for t in range(1500):
    batches = {k: jnp.stack([jnp.asarray(v)] * 2) for k, v in dataset.batch(0, t, 64).items()}
    state, _ = step(state, batches)
  per_generator = algorithm.fakes_per_generator(state, jax.random.key(1), 500, train=False)
  histograms = metrics.mode_histograms(per_generator, dataset.centers, dataset.std)
  dominant = {int(np.argmax(h)) for h in histograms if h.sum() > 0}
  assert len(dominant) >= 2, histograms
  coverage = metrics.mode_coverage(
    np.asarray(algorithm.sample(state, jax.random.key(2), 2500)), dataset.centers, dataset.std
  )
  assert coverage["modes"] >= 4, coverage


def test_losses_of_the_zoo_are_exported():
  for name in (
    "discriminator_wasserstein_loss",
    "pulling_away_term",
    "began_k_update",
    "categorical_mutual_information_bound",
    "feature_matching_loss",
  ):
    assert callable(getattr(losses, name))


def test_mode_collapse_benchmark_writes_its_table_and_figure_and_resumes(tmp_path, capsys):
  path = Path(__file__).resolve().parents[1] / "scripts" / "mode_collapse_benchmark.py"
  spec = importlib.util.spec_from_file_location("mode_collapse_benchmark", path)
  benchmark = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(benchmark)
  tiny = ["--data=ring8", "--seeds=2", "--steps=4", "--width-scale=0.02", f"--output={tmp_path}"]
  benchmark.main(["--methods=GAN", *tiny, f"--figures={tmp_path}"])
  first = json.loads((tmp_path / "results.json").read_text())["ring8"]["GAN"]
  capsys.readouterr()
  # A second run into the same folder keeps the finished method and trains only the new one.
  benchmark.main(["--methods=GAN,PacGAN2", *tiny, f"--figures={tmp_path}"])
  assert "GAN                          done in an earlier run" in capsys.readouterr().out
  table = (tmp_path / "table.md").read_text()
  assert "| GAN |" in table and "6.3±0.5 / 98.2±0.2 / 0.45±0.09" in table  # PacGAN, Table 1
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["ring8"]["GAN"] == first
  assert len(results["ring8"]["PacGAN2"]["per_seed"]) == 2
  assert (tmp_path / "mode_collapse_ring8.png").stat().st_size > 5000
  with pytest.raises(ValueError, match=r"other settings \(steps: \[4\] there, \[5\] now"):
    benchmark.main(["--methods=GAN", *tiny, "--steps=5"])
  # Stopped before its first method finished: only the settings were written; it starts over.
  stopped = tmp_path / "stopped"
  stopped.mkdir()
  (stopped / "settings.json").write_text((tmp_path / "settings.json").read_text())
  benchmark.main(["--methods=GAN", *tiny, f"--output={stopped}", f"--figures={stopped}"])
  assert set(json.loads((stopped / "results.json").read_text())["ring8"]) == {"GAN"}
  assert not list(stopped.glob("*tmp*"))  # progress is written by rename
  with pytest.raises(ValueError, match="Unknown methods"):
    benchmark.main(["--methods=GAN++", f"--output={tmp_path}"])


def test_mode_collapse_benchmark_feeds_each_seed_the_training_loops_batches():
  path = Path(__file__).resolve().parents[1] / "scripts" / "mode_collapse_benchmark.py"
  spec = importlib.util.spec_from_file_location("mode_collapse_benchmark", path)
  benchmark = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(benchmark)
  config = benchmark.method_config("PacGAN3", "ring8", 10, 1.0, 1.0)
  assert config.batch_size == 300 and config.algorithm.stabilisers.packing == 3
  dataset, seeds, phases = data.get("ring8"), [0, 5], 3
  batches = benchmark.seed_batches(dataset, config, seeds, 2, 3, phases)  # steps 2, 3, 4
  for t in range(3):
    for s, seed in enumerate(seeds):
      config.seed = seed
      expected = train.phase_batches(dataset, config, 2 + t, phases)
      for key, value in expected.items():
        np.testing.assert_array_equal(batches[key][t, s], value)
