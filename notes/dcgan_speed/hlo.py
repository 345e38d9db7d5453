import sys, re
sys.argv=[sys.argv[0]]
sys.path.insert(0, __import__("os").path.dirname(__file__))
from prof_step import make
for name, ov in [("default", {}), ("reuse", {"algorithm.generator_reuses_fakes": True})]:
  once, compiled = make(overrides=ov)
  txt = compiled.as_text()
  convs = len(re.findall(r"= f32\[[^\]]*\]\{[^}]*\} convolution\(", txt)) + len(re.findall(r" convolution\(", txt))
  print(name, "convolution ops:", len(re.findall(r"convolution\(", txt)), "custom-calls:", len(re.findall(r"custom-call\(", txt)), "dots:", len(re.findall(r" dot\(", txt)))
  c = compiled.cost_analysis(); c = c[0] if isinstance(c,(list,tuple)) else c
  print(name, "GFLOP", c.get("flops")/1e9, "bytes accessed GB", c.get("bytes accessed",0)/1e9)
  open(f"/tmp/dc/hlo_{name}.txt","w").write(txt)
