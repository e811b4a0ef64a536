"""The codelab's five-layer fully connected nets, in TF1 graph style.

tensorflow-without-a-phd (Martin Gorner's codelab), one graph for four steps
(their hyperparameters are flagfiles):
- mnist_2.0_five_layers_sigmoid.py (flags/codelab_2_0_five_layers_sigmoid.cfg):
  784-200-100-60-30-10 with sigmoid, weights truncated_normal(stddev=0.1),
  biases zeros, reduce_mean(softmax_cross_entropy_with_logits) * 100, Adam
  lr 0.003, batch 100, 10,000 steps; about 97.5 % on full MNIST.
- mnist_2.1_five_layers_relu.py (codelab_2_1_five_layers_relu.cfg): the same
  with relu and biases 0.1 (tf.ones / 10); about 98 %.
- mnist_2.1_five_layers_relu_lrdecay.py
  (codelab_2_1_five_layers_relu_lrdecay.cfg): relu with
  lr = 0.0001 + (0.003 - 0.0001) * exp(-step / 2000); about 98.2 %.
- mnist_2.2_five_layers_relu_lrdecay_dropout.py
  (codelab_2_2_five_layers_relu_lrdecay_dropout.cfg): that with dropout
  after each hidden layer, pkeep 0.75 in training; about 98.2 %.

The computation is tf1_graph/mlp.py's with other hyperparameters, so this
module only names its scope: variables are deep_mlp/hidden_0/weights, ...,
deep_mlp/output/biases. The TF2 form is tf2_eager/deep_mlp.py.
"""

import tensorflow as tf

from flags import model_configs
from tf1_graph import classifier
from tf1_graph import mlp

SCOPE = "deep_mlp"


def inference(
    images: tf.Tensor, model_config: model_configs.DeepMlpConfig, keep_prob: tf.Tensor
) -> tf.Tensor:
    """Builds the model up to the logits, float32 [batch, 10], for images
    float32 [batch, 784]; see mlp.inference, here under the "deep_mlp" scope."""
    return mlp.inference(images, model_config, keep_prob, scope=SCOPE)


# The whole training graph, build(images, labels, model_config, loss_form,
# optimizer_config); see classifier.build.
build = classifier.builder(inference)
