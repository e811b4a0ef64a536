# Legacy fixture for tf2_eager/migration_report_test.py: hand-written
# cross-entropies, TF32, arguments whose positions TF2 moved, and eager code
# inside Session and Graph blocks, each on its own line. Never run.
import tensorflow as tf

logits = tf.placeholder(tf.float32, [None, 10])
labels = tf.placeholder(tf.float32, [None, 10])
probabilities = tf.nn.softmax(logits)
loss = -tf.reduce_sum(labels * tf.log(probabilities), axis=1)
inline_loss = -tf.reduce_sum(labels * tf.math.log(tf.nn.softmax(logits)))
clipped_log = tf.math.log(tf.clip_by_value(probabilities, 1e-10, 1.0))
tf.config.experimental.enable_tensor_float_32_execution(True)
tf.config.experimental.enable_tensor_float_32_execution(enabled=False)
mean, variance = tf.nn.moments(logits, [0], None, "moments")
transposed = tf.transpose(logits, [1, 0], "transpose")
counts = tf.random.poisson([2, 3], [4])
padded = tf.pad(logits, [[0, 0], [1, 1]], "CONSTANT", "pad", 0)
chosen = tf.cond(logits[0, 0] > 0, lambda: logits, lambda: labels, False, "cond")
best = tf.argmax(logits, 1)
graph = tf.Graph()
with graph.as_default():
    total = tf.reduce_sum(logits)
    print(total.numpy())
    if tf.executing_eagerly():
        print("eager")
with tf.Session() as session:
    tf.global_variables_initializer().run()
    print(tf.reduce_mean(logits).numpy())
print(tf.reduce_mean(logits).numpy())
