"""Trains a tf2_eager model the TF2 way: a tf.function step, no Session.

    python -m tf2_eager.train --flagfile=flags/hvass_softmax.cfg --json=tf2.json

`train(config, dataset, strategy=None)` is the library entry point for the
MNIST classifiers (tests call it): the one training loop of
tf2_eager/loop.py, on one device or under the tf.distribute strategy it is
given, with the services of tf2_eager/hooks.py. EXPERIMENTS runs the small
models, which bring their own data. The command's main,
tf2_eager.distributed.main, turns the flags into a TrainConfig, picks the
strategy that --strategy names (none, mirrored, multi_worker), loads the
data and calls one of them.
"""

from absl import app

from tf2_eager import distributed
from tf2_eager import loop
from tf2_eager import models

train = loop.train
# The MNIST classifiers that train() trains, by --model.
MODELS = models.MODELS
# The small programs that bring their own data, by --model.
EXPERIMENTS = models.EXPERIMENTS
main = distributed.main

if __name__ == "__main__":
    app.run(main)
