"""Migration pitfalls that MIGRATION.md lists and no other test shows: each
test demonstrates the pitfall itself, then the fix."""

import numpy as np
import pytest
import tensorflow as tf


def _tf1_draw(op_seed=None, extra_random_op_first=False) -> np.ndarray:
    """truncated_normal([3]) in a fresh TF1 graph with graph-level seed 0."""
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(0)
        if extra_random_op_first:
            tf.compat.v1.random_uniform([2])
        values = tf.compat.v1.truncated_normal([3], seed=op_seed)
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(values)


def test_graph_level_seed_draws_depend_on_the_ops_built_before():
    # TF1 derives a random op's seed from the graph seed and the op's position
    # in the graph: one random op built earlier changes every later draw.
    assert not np.array_equal(_tf1_draw(), _tf1_draw(extra_random_op_first=True))
    # An op-level seed pins the draw wherever the op sits.
    np.testing.assert_array_equal(
        _tf1_draw(op_seed=7), _tf1_draw(op_seed=7, extra_random_op_first=True))


def test_the_same_seed_draws_different_numbers_in_tf1_and_tf2():
    tf1_values = _tf1_draw()
    tf.random.set_seed(0)
    global_seed_values = tf.random.truncated_normal([3]).numpy()
    generator_values = tf.random.Generator.from_seed(0).truncated_normal([3]).numpy()
    assert not np.array_equal(tf1_values, global_seed_values)
    assert not np.array_equal(tf1_values, generator_values)
    # Hence matched mode draws initial values once, in numpy
    # (mnist_data/initial_values.py), and loads them into both sides.


def test_tf_compat_v1_layers_raise_under_keras_3():
    with pytest.raises(AttributeError, match="not available with Keras 3"):
        tf.compat.v1.layers.dense(tf.zeros([2, 784]), 10)
    # The TF2 form: a Keras layer (or plain variables, as tf2_eager/mlp.py).
    assert tf.keras.layers.Dense(10)(tf.zeros([2, 784])).shape == (2, 10)


def test_naive_log_softmax_is_inf_where_the_fused_loss_stays_finite():
    # Once a probability underflows to 0, log(softmax) is -inf.
    logits = tf.constant([[200.0, 0.0]])
    labels = tf.constant([[0.0, 1.0]])
    naive = -tf.reduce_sum(labels * tf.math.log(tf.nn.softmax(logits)))
    fused = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    assert np.isinf(naive.numpy())
    assert fused.numpy() == pytest.approx(200.0)
    # And a label of 0 on the underflowed class gives 0 * -inf = NaN.
    nan = -tf.reduce_sum(tf.constant([[1.0, 0.0]]) * tf.math.log(tf.nn.softmax(logits)))
    assert np.isnan(nan.numpy())


def test_tf32_is_on_by_default_and_float32_matmul_is_exact_on_cpu():
    # TensorFlow enables TF32 by default; on Ampere and newer GPUs float32
    # matmuls then keep 10 mantissa bits, about 1e-3 relative error.
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    a, b = np.random.default_rng(0).standard_normal([2, 256, 256]).astype(np.float32)
    with tf.device("/CPU:0"):
        product = tf.matmul(a, b).numpy()
    reference = a.astype(np.float64) @ b.astype(np.float64)
    # CPUs have no TF32: float32 rounding only, far below TF32's error.
    assert np.max(np.abs(product - reference)) / np.max(np.abs(reference)) < 1e-5


def _ampere_or_newer_gpu() -> bool:
    return any(
        tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) >= (8, 0)
        for gpu in tf.config.list_physical_devices("GPU")
    )


@pytest.mark.skipif(not _ampere_or_newer_gpu(), reason="TF32 needs an Ampere or newer GPU")
def test_tf32_breaks_tight_tolerances_on_gpu_until_turned_off():
    a, b = np.random.default_rng(0).standard_normal([2, 256, 256]).astype(np.float32)
    reference = a.astype(np.float64) @ b.astype(np.float64)

    def relative_error() -> float:
        with tf.device("/GPU:0"):
            product = tf.matmul(a, b).numpy()
        return np.max(np.abs(product - reference)) / np.max(np.abs(reference))

    assert relative_error() > 1e-4
    try:
        tf.config.experimental.enable_tensor_float_32_execution(False)
        assert relative_error() < 1e-5
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(True)


def test_eager_code_inside_a_with_session_block_builds_graph_ops():
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph):
        # The block makes `graph` the default graph: this is a graph tensor.
        inside = tf.constant(1.0)
        assert not tf.executing_eagerly()
    assert inside.graph is graph
    # Outside it, or with a session opened without `with`, code is eager again.
    session = tf.compat.v1.Session(graph=graph)
    assert tf.executing_eagerly() and tf.constant(1.0).numpy() == 1.0
    session.close()
