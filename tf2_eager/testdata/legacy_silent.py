# Legacy fixture for tf2_eager/migration_report_test.py: every silent change
# and every argument order the report knows, each on its own line. Never run.
import tensorflow as tf

images = tf.placeholder(tf.float32, [None, 784])
labels = tf.placeholder(tf.float32, [None, 10])
hidden = tf.layers.dense(images, 100)
normalised = tf.layers.batch_normalization(hidden, training=True)
dropped = tf.nn.dropout(normalised, 0.9)
logits = tf.layers.dense(dropped, 10)
loss = tf.nn.softmax_cross_entropy_with_logits(logits, labels)
sigmoid_loss = tf.nn.sigmoid_cross_entropy_with_logits(logits, labels)
both = tf.concat(0, [logits, logits])
halves = tf.split(1, 2, logits)
correct = tf.nn.in_top_k(logits, tf.argmax(labels, 1), 1)
adam = tf.train.AdamOptimizer(0.001)
rmsprop = tf.train.RMSPropOptimizer(0.001)
adam_tf1_epsilon = tf.train.AdamOptimizer(0.001, epsilon=1e-8)
keep_prob = tf.placeholder(tf.float32)
dropped_again = tf.nn.dropout(hidden, keep_prob)
