"""Proof that tf1_graph and tf2_eager compute the same thing.

- ladder: the migration guide's parity ladder as a library, for any pair.
- parity: the command that runs the project's models on both sides.
- the *_test.py files: the pytest suite, parameterised over models, configs
  and devices.
"""
