"""The tf1_graph models by --model: the one registry the TF1 commands read.

The training loops (tf1_graph/session_loop.py, towers.py, cluster.py) and
the commands import this module; it imports only the model modules, so no
loop has to import another loop, or the command, to find a model.
"""

from tf1_graph import convnet
from tf1_graph import deep_mlp
from tf1_graph import linear_regression
from tf1_graph import logistic_regression
from tf1_graph import mlp
from tf1_graph import multiply
from tf1_graph import softmax_regression

# The MNIST classifiers that the session loop trains, by --model. Each
# module has inference(images, config, keep_prob) and build(images, labels,
# config), the tutorials' split (tf1_graph/classifier.py).
MODELS = {
    "softmax_regression": softmax_regression,
    "mlp": mlp,
    "deep_mlp": deep_mlp,
    "convnet": convnet,
}
# The small programs that bring their own data, by --model: each module's
# experiment(config) is what the command runs for it.
EXPERIMENTS = {
    "multiply": multiply.experiment,
    "linear_regression": linear_regression.experiment,
    "logistic_regression": logistic_regression.experiment,
}
