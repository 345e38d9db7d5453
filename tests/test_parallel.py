"""Data parallelism: one train step on 8 (simulated) devices equals the single-device step."""

import os
import sys
import textwrap

import hang_guard

SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    from jaxgen.run import train
    from jaxgen.configs import dcgan_digits

    assert len(jax.devices()) == 8, jax.devices()
    config = dcgan_digits.get_config()
    config.batch_size = 16
    config.model.generator = {"name": "dcgan", "base_features": 8}
    config.model.discriminator = {"name": "dcgan", "base_features": 8}
    finals = []
    for devices in (jax.devices()[:1], jax.devices()):
      run = train.Run(config, devices=devices)
      state = run.init_state()
      for step in range(2):
        state, metrics = run.step(state, step)
      assert len(jax.tree.leaves(state.players)[0].sharding.device_set) == len(devices)
      finals.append([np.asarray(x) for x in jax.tree.leaves(state.players)])
    print("max_abs_diff", max(float(np.max(np.abs(a - b))) for a, b in zip(*finals)))
    config.batch_size = 12
    try:
      train.Run(config)
    except ValueError as error:
      print("error:", error)
""")


def test_eight_device_step_equals_single_device_step():
  env = {
    **os.environ,
    "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
    "JAX_PLATFORMS": "cpu",
  }
  result = hang_guard.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
  assert float(lines["max_abs_diff"]) < 1e-5
  assert "batch_size=12 is not divisible by the 8 devices" in lines["error:"]
