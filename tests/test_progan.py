"""ProGAN (Karras et al. 2018): the fade-in of the growing networks, the equalised learning rate,
the growth schedule, one compiled train step per stage and exact resumption mid-fade."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.algorithms.progan import GrowthSchedule, real_at_stage
from jaxgen.configs import progan_digits
from jaxgen.errors import ConfigError
from jaxgen.nn.layers import EqualizedConv, EqualizedDense
from jaxgen.nn.progan import ProGANDiscriminator, ProGANGenerator, downsample, upsample
from jaxgen.run import train

LATENT, FEATURES = 3, 3


@pytest.fixture(scope="module")
def nets():
  """A 16x16 G and D (stages 4, 8, 16) and their params, every block and head."""
  g, d = ProGANGenerator((16, 16, 1), features=FEATURES), ProGANDiscriminator(16, features=FEATURES)
  g_params = jax.jit(g.init)(jax.random.key(0), jnp.zeros((4, LATENT)))["params"]
  d_params = jax.jit(d.init)(jax.random.key(1), jnp.zeros((4, 16, 16, 1)))["params"]
  return g, g_params, d, d_params


def _perturbed(params, head):
  """`params` with the weights of `head` changed."""
  return {**params, head: jax.tree.map(lambda w: w + 1.0, params[head])}


@pytest.mark.parametrize("stage", [1, 2])
def test_grown_generator_at_alpha_0_is_the_previous_one_upsampled(nets, stage):
  g, params, _, _ = nets
  z = jax.random.normal(jax.random.key(2), (4, LATENT))
  previous = g.apply({"params": params}, z, stage=stage - 1)
  grown = g.apply({"params": params}, z, stage=stage, alpha=0.0)
  assert grown.shape == (4, 4 * 2**stage, 4 * 2**stage, 1)
  np.testing.assert_allclose(grown, upsample(previous), rtol=1e-6, atol=1e-6)
  # ... and at alpha = 1 only the new block's path counts: the old head changes nothing.
  new = g.apply({"params": params}, z, stage=stage, alpha=1.0)
  old_head_changed = g.apply(
    {"params": _perturbed(params, f"to_rgb{stage - 1}")}, z, stage=stage, alpha=1.0
  )
  np.testing.assert_array_equal(new, old_head_changed)
  assert np.abs(new - grown).max() > 1e-3  # the two paths differ, so both checks mean something


@pytest.mark.parametrize("stage", [1, 2])
def test_grown_discriminator_at_alpha_0_reads_the_downsampled_input(nets, stage):
  _, _, d, params = nets
  size = 4 * 2**stage
  x = jax.random.normal(jax.random.key(3), (4, size, size, 1))
  previous = d.apply({"params": params}, downsample(x), stage=stage - 1)
  grown = d.apply({"params": params}, x, stage=stage, alpha=0.0)
  np.testing.assert_allclose(grown, previous, rtol=1e-5, atol=1e-6)
  new = d.apply({"params": params}, x, stage=stage, alpha=1.0)
  old_head_changed = d.apply(
    {"params": _perturbed(params, f"from_rgb{stage - 1}")}, x, stage=stage, alpha=1.0
  )
  np.testing.assert_array_equal(new, old_head_changed)
  assert np.abs(new - grown).max() > 1e-4


def test_real_images_fade_like_the_discriminator_input():
  x = jax.random.normal(jax.random.key(4), (2, 16, 16, 1))
  at_8 = downsample(x)
  np.testing.assert_allclose(real_at_stage(x, 8, 1.0, fading=True), at_8, rtol=1e-6)
  np.testing.assert_allclose(
    real_at_stage(x, 8, 0.0, fading=True), upsample(downsample(at_8)), rtol=1e-6
  )
  np.testing.assert_allclose(real_at_stage(x, 4, 0.3, fading=False), downsample(at_8), rtol=1e-6)


def test_equalised_learning_rate_scale_is_hes_constant():
  x = jax.random.normal(jax.random.key(5), (2, 5, 5, 4))
  conv = EqualizedConv(6, kernel_size=(3, 3))
  params = conv.init(jax.random.key(6), x)["params"]
  params = {**params, "bias": jnp.arange(6.0)}
  kernel = params["conv"]["kernel"]
  assert abs(float(jnp.std(kernel)) - 1.0) < 0.2  # stored weights ~ N(0, 1)
  plain = jax.lax.conv_general_dilated(
    x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
  )
  expected = plain * math.sqrt(2.0 / (3 * 3 * 4)) + params["bias"]  # He et al. 2015, eq. 10
  np.testing.assert_allclose(conv.apply({"params": params}, x), expected, rtol=1e-5, atol=1e-5)
  dense = EqualizedDense(2)
  h = x.reshape(2, -1)
  dense_params = dense.init(jax.random.key(7), h)["params"]
  expected = h @ dense_params["linear"]["kernel"] * math.sqrt(2.0 / h.shape[1])
  np.testing.assert_allclose(dense.apply({"params": dense_params}, h), expected, rtol=1e-5)


def test_growth_schedule_stages_and_alpha():
  growth = GrowthSchedule(stable_steps=2, fade_steps=4, num_stages=3)
  stages = [growth.stage(t) for t in range(16)]
  assert stages == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
  alphas = [float(growth.alpha(jnp.int32(t))) for t in range(16)]
  assert alphas == [1, 1, 0, 0.25, 0.5, 0.75, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1, 1, 1]
  traced = [int(growth.traced_stage(jnp.int32(t))) for t in range(16)]
  assert traced == stages


def tiny_config(num_steps):
  config = progan_digits.get_config()
  config.data.options = {"size": 8}  # stages 4x4 and 8x8
  config.algorithm.stable_steps, config.algorithm.fade_steps = 2, 4  # fade: steps 2..5
  config.model.latent_dim = LATENT
  config.model.generator = {"name": "progan", "features": 2}
  config.model.discriminator = {"name": "progan", "features": 2}
  config.batch_size, config.num_steps, config.progress_bar = 4, num_steps, False
  config.eval_every, config.checkpoint_every, config.eval.extractor = 1_000_000, 4, ""
  return config


def test_resumed_mid_fade_run_is_exact_with_one_compiled_step_per_stage(tmp_path, monkeypatch):
  traced_stages = []
  make_train_step = train.make_train_step

  def counting(algorithm):
    step = make_train_step(algorithm)

    def traced(state, batches):  # the body runs once per trace
      traced_stages.append(algorithm.current_stage)
      return step(state, batches)

    return traced

  monkeypatch.setattr(train, "make_train_step", counting)
  fresh = train.train_and_evaluate(tiny_config(6), tmp_path / "fresh")
  assert traced_stages == [0, 1]  # 6 steps, 4 alphas, 2 stages: 2 traces
  traced_stages.clear()
  halfway = train.train_and_evaluate(tiny_config(4), tmp_path / "split")  # saved at step 4
  assert float(halfway.extra["alpha"]) == 0.5 and int(halfway.extra["stage"]) == 1
  traced_stages.clear()
  resumed = train.train_and_evaluate(tiny_config(6), tmp_path / "split")
  assert traced_stages == [1]
  assert int(resumed.step) == 6 and float(resumed.extra["alpha"]) == 1.0
  for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(fresh), strict=True):
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
      a, b = jax.random.key_data(a), jax.random.key_data(b)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
  ("key", "value", "message"),
  [
    ("algorithm.fade_steps", 0, r"algorithm.fade_steps = 0"),
    ("algorithm.drift_weight", -1.0, r"algorithm.drift_weight = -1.0"),
    ("algorithm.stabilisers.spectral_norm", True, r"not supported by algorithm 'progan'"),
  ],
)
def test_bad_values_are_refused_by_name(key, value, message):
  config = tiny_config(6)
  section, _, field = key.rpartition(".")
  target = config
  for part in section.split("."):
    target = target[part]
  target[field] = value
  with pytest.raises(ConfigError, match=message):
    train.Run(config)
