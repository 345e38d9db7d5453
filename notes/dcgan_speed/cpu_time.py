"""Interleaved rounds, single thread each: process CPU time and wall time per step."""
import os, sys, time, statistics
import numpy as np
sys.argv += [] 
sys.path.insert(0, __import__("os").path.dirname(__file__))
import torch
torch.set_num_threads(1)
import prof_step as ps
import benchmark_torch as bt
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
v = {}
v["jaxgen default"] = ps.make()[0]
v["jaxgen no metrics"] = ps.make(strip_metrics=True)[0]
v["jaxgen reuse"] = ps.make(overrides={"algorithm.generator_reuses_fakes": True})[0]
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32); z = rng.standard_normal((64, 100)).astype(np.float32)
v["torch"] = bt.torch_stepper(x, z, 64)[0]
for f in v.values():
  for _ in range(3): f()
cpu = {k: [] for k in v}; wall = {k: [] for k in v}
for r in range(rounds):
  for k, f in v.items():
    for _ in range(6):
      c, w = time.process_time(), time.perf_counter(); f()
      cpu[k].append(time.process_time() - c); wall[k].append(time.perf_counter() - w)
for k in v:
  print(f"| {k} | {1e3*statistics.median(cpu[k]):.1f} | {1e3*np.percentile(cpu[k],10):.1f}-{1e3*np.percentile(cpu[k],90):.1f} | {1e3*statistics.median(wall[k]):.1f} | {statistics.median(cpu[k])/statistics.median(cpu['torch']):.2f} |")
