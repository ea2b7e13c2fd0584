"""The machinery around ``course_lib.trainer``'s training step, one job per module:

* ``precision``: mixed precision (autocast, float16's loss scaler) and the optimiser step a device flag can skip;
* ``dropout_rng``: a run's own state of the generator dropout draws from, so that a resumed run is exact;
* ``loss_log``: each step's loss, kept on the device and read into the ``History`` at log points only;
* ``nonfinite``: what a non-finite loss is blamed on (the data, diverged weights, an overflow);
* ``undo``: undoing, in place, steps run only to warm up;
* ``cuda_graph``: capturing the step as one CUDA graph;
* ``stop_signals``: Ctrl-C and SIGTERM acted on between steps;
* ``progress``: the progress bar.

None of them imports the trainer: each gets what it works on as arguments.
"""
