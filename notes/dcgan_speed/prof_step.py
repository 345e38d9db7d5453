"""Ablation profile of the real jaxgen DCGAN step (dcgan_mnist config) vs torch_stepper."""
import statistics, sys, time, types, importlib
import jax, jax.numpy as jnp, numpy as np, optax, torch
sys.path.insert(0, "scripts")
import benchmark_torch as bt
from jaxgen import algorithms
from jaxgen.algorithms import base
from jaxgen.algorithms.base import init_train_state, make_train_step

def make(config_mod="dcgan_mnist", overrides=None, strip_metrics=False):
  config = importlib.import_module(f"jaxgen.configs.{config_mod}").get_config()
  for k, v in (overrides or {}).items():
    node = config
    *path, last = k.split(".")
    for p in path: node = node[p]
    node[last] = v
  ds = types.SimpleNamespace(name="mnist", example_shape=(28, 28, 1), num_classes=10)
  alg = algorithms.get(config.algorithm.name)(config, ds)
  phases = len(alg.schedule)
  rng = np.random.default_rng(0)
  batches = {"x": rng.uniform(-1, 1, (phases, 64, 28, 28, 1)).astype(np.float32),
             "y": rng.integers(0, 10, (phases, 64)).astype(np.int32)}
  state = jax.jit(lambda k: init_train_state(alg, k, jax.tree.map(lambda x: x[0], batches)))(jax.random.key(0))
  if strip_metrics:
    old = (base.optax.tree.norm, base._all_finite)
    base._all_finite = lambda t: jnp.bool_(True)
    norm = optax.tree.norm
    optax.tree.norm = lambda t: jnp.float32(0)
  fn = make_train_step(alg)
  compiled = jax.jit(fn, donate_argnums=0).lower(state, batches).compile()
  if strip_metrics:
    optax.tree.norm = norm; base._all_finite = old[1]
  box = [state]
  def once():
    box[0], m = compiled(box[0], batches); jax.block_until_ready((box[0], m))
  return once, compiled

def ms(f, n):
  ts = []
  for _ in range(n):
    t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
  return ts

if __name__ == "__main__":
  variants = {}
  variants["real"] = make()[0]
  variants["real_nometrics"] = make(strip_metrics=True)[0]
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
  z = rng.standard_normal((64, 100)).astype(np.float32)
  variants["torch"] = bt.torch_stepper(x, z, 64)[0]
  variants["hand"] = bt.jax_stepper(x, z, 64, bt.gan.ConvTranspose)[0]
  for f in variants.values(): ms(f, 3)
  times = {k: [] for k in variants}
  for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
    for k, f in variants.items(): times[k] += ms(f, 8)
  for k, t in times.items():
    print(f"{k:16s} median {1e3*statistics.median(t):6.1f} ms  p10 {1e3*np.percentile(t,10):6.1f} p90 {1e3*np.percentile(t,90):6.1f}")
