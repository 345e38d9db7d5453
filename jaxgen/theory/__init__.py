"""GAN theory, executable: the claims the seeds argue from, as functions, experiments and figures.

Each module holds the reusable pieces of a few claims; every experiment trains through the one
loop (`jaxgen.run.train.Run`) and returns its numbers and arrays; `draw_*` functions draw them.
"""
