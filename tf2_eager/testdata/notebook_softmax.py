# Legacy fixture for tf2_eager/migration_report_test.py, in the style of the
# Spanish notebook's softmax regression (TF 1.x): a [None, 28, 28]
# placeholder, a Session loop fed with feed_dict. Never run.
import numpy as np
import tensorflow as tf

train_images = np.zeros([100, 28, 28], np.float32)
train_labels = np.zeros([100, 10], np.float32)

x = tf.placeholder(tf.float32, [None, 28, 28])
y = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.zeros([28, 28, 10]))
b = tf.Variable(tf.zeros([10]))
y_hat = tf.nn.softmax(tf.matmul(x, W) + b)
cross_entropy = -tf.reduce_sum(y * tf.log(y_hat), reduction_indices=[1])
train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
correct = tf.equal(tf.argmax(y_hat, dimension=1), tf.argmax(y, dimension=1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

init = tf.initialize_all_variables()
sess = tf.Session()
sess.run(init)
for step in range(5000):
    sess.run(train_step, feed_dict={x: train_images, y: train_labels})
print(sess.run(accuracy, feed_dict={x: train_images, y: train_labels}))
saver = tf.train.Saver()
saver.save(sess, "model.ckpt")
