"""Each cause in compat_tests.causes is named from its evidence and only
from it: the functions on measured values, without running a ladder (the
planted mistakes run them end to end)."""

import numpy as np
import tensorflow as tf

from compat_tests import causes


def _cross_entropy(logits: np.ndarray, one_hot: np.ndarray, smoothing: float) -> float:
    labels = one_hot * (1 - smoothing) + smoothing / one_hot.shape[1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(np.mean(-np.sum(labels * log_probabilities, axis=1)))


def test_label_smoothing_is_read_from_both_losses():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 10))
    labels = np.eye(10)[rng.integers(0, 10, size=50)]
    plain, smoothed = (_cross_entropy(logits, labels, s) for s in (0.0, 0.1))
    found, = causes.label_smoothing(logits, labels, plain, smoothed, tf2_configured=0.1)
    assert found.startswith("Label smoothing: TF1's loss is the cross-entropy with labels "
                            "smoothed by 0, TF2's by 0.1 (its loss object's label_smoothing "
                            "is 0.1)")
    # Integer labels read the same.
    assert causes.label_smoothing(logits, labels.argmax(1), plain, smoothed, None)
    # A gap that no smoothing explains (a regulariser's 0.0123) is not named.
    assert causes.label_smoothing(logits, labels, plain, plain + 0.0123, None) == []


def test_dropout_rates_name_a_keep_prob_ported_as_a_rate():
    found, = causes.dropout_rates([("dropout", 0.1)], [("dropout", 0.9)])
    assert "A keep_prob ported as a rate" in found
    assert causes.dropout_rates([("dropout", 0.5)], [("dropout", 0.5)]) == []
    other, = causes.dropout_rates([("dropout", 0.5)], [("dropout", 0.3)])
    assert "keep_prob ported" not in other


def test_batch_norm_epsilons_are_read_from_the_tf1_graph():
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, 4])
        mean, variance = tf.nn.moments(inputs, axes=[0])
        tf.compat.v1.nn.batch_normalization(inputs, mean, variance, None, None, 1e-3)
        tf.compat.v1.nn.fused_batch_norm(
            tf.reshape(inputs, [-1, 1, 1, 4]), tf.ones([4]), tf.zeros([4]), epsilon=1e-5)
    epsilons = causes.tf1_batch_norm_epsilons(graph)
    assert [name for name, _ in epsilons] == ["batchnorm/add", "FusedBatchNormV3"]
    assert np.allclose([value for _, value in epsilons], [1e-3, 1e-5])
    assert causes.batch_norm_epsilon(epsilons, [("bn", 1e-3), ("bn_1", 1e-5)]) == []
    found, = causes.batch_norm_epsilon(epsilons[:1], [("bn", 1e-5)])
    assert found.startswith("Batch norm epsilon: TF1 adds 0.001 (batchnorm/add)")


def test_clipping_is_read_from_the_tf1_graph_and_the_tf2_optimizer():
    graph = tf.Graph()
    with graph.as_default():
        values = tf.compat.v1.placeholder(tf.float32, [4])
        tf.clip_by_global_norm([values], 1.0)
        tf.clip_by_value(values, -1.0, 1.0)
    assert causes.tf1_clipping(graph) == ["clip_by_global_norm", "clip_by_value"]
    assert causes.tf1_clipping(tf.Graph()) == []
    evidence = causes.clipping_evidence(tf.keras.optimizers.SGD(0.1, clipnorm=1.0), graph)
    assert evidence == ["the TF2 optimizer clips (clipnorm=1)",
                        "the TF1 graph clips (tf.clip_by_global_norm, tf.clip_by_value ops)"]
    unclipped = causes.update_ratio(np.ones(5), 2 * np.ones(5), [])
    assert "neither side clips its gradients: the two sides step with different learning " \
        "rates" in unclipped


def test_activations_and_dtype_policies():
    found, = causes.activations("dense", ["MatMul", "AddV2", "Relu"], ["dense"], ["elu"])
    assert found.startswith("Activation: TF1 applies relu in 'dense', TF2 elu in ['dense']")
    assert causes.activations("dense", ["MatMul", "Relu"], ["dense", "re_lu"],
                              ["linear", "relu"]) == []
    policy, = causes.dtype_policies("float32", [("dense", "mixed_float16", "float16"),
                                                ("dense_1", "float32", "float32")])
    assert "the TF2 layers ['dense'] run under mixed_float16 (computes in float16)" in policy
    assert causes.dtype_policies("float32", [("dense", "float32", "float32")]) == []


def test_schedules_are_named_only_from_their_shape():
    smooth = [0.1 * 0.5 ** (step / 2) for step in range(6)]
    stairs = [0.1 * 0.5 ** (step // 2) for step in range(6)]
    found, = causes.learning_rate_schedules(smooth, stairs, {})
    assert found.startswith("Staircase vs smooth decay: TF2's learning rate changes in stairs "
                            "every 2 steps (at steps [2, 4])")
    # A constant TF1 rate whose step variable moved is no missing global_step.
    constant = [0.1] * 6
    assert causes.learning_rate_schedules(constant, smooth, {"global_step": (0.0, 6.0)}) == []
    stuck, = causes.learning_rate_schedules(constant, smooth, {"global_step": (0.0, 0.0)})
    assert "does not increment global_step" in stuck
    # Two smooth schedules that differ are neither.
    assert causes.learning_rate_schedules(smooth, [r * 0.9 for r in smooth], {}) == []


def test_a_moving_average_that_stays_on_one_side_is_named_without_a_decay():
    found, = causes.moving_average_rate(
        "batch_norm/moving_mean", np.array([0.01, -0.02, 0.03]), np.zeros(3), 0.99)
    assert found.startswith("Moving average: TF1 updates batch_norm/moving_mean and TF2 "
                            "leaves it where it was"), found
