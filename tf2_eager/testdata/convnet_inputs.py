# Legacy fixture for tf2_eager/migration_report_test.py: image placeholders a
# MatMul can and cannot take. Only `unflat` (line 11) reaches a MatMul as
# [batch, 28, 28]. Never run.
import tensorflow as tf

convnet_input = tf.placeholder(tf.float32, [None, 28, 28, 1])
features = tf.nn.conv2d(convnet_input, tf.ones([5, 5, 1, 4]), [1, 1, 1, 1], "SAME")
images = tf.placeholder(tf.float32, [None, 28, 28])
flat = tf.reshape(images, [-1, 784])
logits = tf.matmul(flat, tf.ones([784, 10]))
unflat = tf.placeholder(tf.float32, [None, 28, 28])
wrong = tf.matmul(unflat, tf.ones([28, 10]))
