"""The codelab's five-layer fully connected nets, in idiomatic TF2.

The TF2 form of tf1_graph/deep_mlp.py, reproducing tensorflow-without-a-phd
(Martin Gorner's codelab) steps 2.0 to 2.2 (flagfiles in flags/):
- mnist_2.0_five_layers_sigmoid (codelab_2_0_five_layers_sigmoid.cfg):
  784-200-100-60-30-10 with sigmoid, weights truncated_normal(stddev=0.1),
  biases zeros, reduce_mean(softmax_cross_entropy_with_logits) * 100, Adam
  lr 0.003, batch 100, 10,000 steps; about 97.5 % on full MNIST.
- mnist_2.1_five_layers_relu (codelab_2_1_five_layers_relu.cfg): relu,
  biases 0.1; about 98 %.
- mnist_2.1_five_layers_relu_lrdecay (codelab_2_1_five_layers_relu_lrdecay.cfg):
  lr = 0.0001 + (0.003 - 0.0001) * exp(-step / 2000); about 98.2 %.
- mnist_2.2_five_layers_relu_lrdecay_dropout
  (codelab_2_2_five_layers_relu_lrdecay_dropout.cfg): dropout with keep 0.75
  after each hidden layer in training; about 98.2 %.

The model is tf2_eager/mlp.py's MLP under the name "deep_mlp", so its
variables are deep_mlp/hidden_0/weights, ..., deep_mlp/output/biases.
"""

from typing import Optional

from flags import model_configs
from tf2_eager import mlp

SCOPE = "deep_mlp"


def create(model_config: model_configs.DeepMlpConfig, seed: Optional[int]) -> mlp.MLP:
    """Returns the MLP `model_config` describes, named "deep_mlp"; see mlp.create."""
    return mlp.MLP(model_config, seed, name=SCOPE)
