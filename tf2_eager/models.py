"""The tf2_eager models by --model: the one registry the TF2 commands read.

One table for the loop (tf2_eager/train.py's train), the command
(tf2_eager/distributed.py's main) and the tools that build a model by name
(compat_tests, tf2_eager/checkpoints.py), so none of them imports another
only to reach it.
"""

from tf2_eager import convnet
from tf2_eager import deep_mlp
from tf2_eager import linear_regression
from tf2_eager import logistic_regression
from tf2_eager import mlp
from tf2_eager import multiply
from tf2_eager import softmax_regression

# The MNIST classifiers that the training loop trains: each module's
# create(config) builds the model.
MODELS = {
    "softmax_regression": softmax_regression,
    "mlp": mlp,
    "deep_mlp": deep_mlp,
    "convnet": convnet,
}
# The small programs that bring their own data: each module's
# experiment(config) is what the command runs for it.
EXPERIMENTS = {
    "multiply": multiply.experiment,
    "linear_regression": linear_regression.experiment,
    "logistic_regression": logistic_regression.experiment,
}
