# Legacy fixture for tf2_eager/migration_report_test.py, in the style of
# tensorflow-without-a-phd's mnist_1.0_softmax.py (TF 1.x): read_data_sets,
# an InteractiveSession, .run() and .eval() with feed_dict. Never run.
import tensorflow as tf
from tensorflow.contrib.learn.python.learn.datasets.mnist import read_data_sets

tf.set_random_seed(0)
mnist = read_data_sets("data", one_hot=True, reshape=False, validation_size=0)

X = tf.placeholder(tf.float32, [None, 28, 28, 1])
Y_ = tf.placeholder(tf.float32, [None, 10])
W = tf.Variable(tf.truncated_normal([784, 10], stddev=0.1))
b = tf.Variable(tf.zeros([10]))
XX = tf.reshape(X, [-1, 784])
Y = tf.nn.softmax(tf.matmul(XX, W) + b)
cross_entropy = -tf.reduce_mean(Y_ * tf.log(Y)) * 1000.0
correct_prediction = tf.equal(tf.argmax(Y, 1), tf.argmax(Y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
hidden = tf.layers.dense(XX, 200, activation=tf.nn.relu)
dropped = tf.nn.dropout(hidden, keep_prob=0.75)
train_step = tf.train.AdamOptimizer(0.003).minimize(cross_entropy)
tf.summary.scalar("accuracy", accuracy)
summaries = tf.summary.merge_all()
writer = tf.summary.FileWriter("log")

sess = tf.InteractiveSession()
tf.global_variables_initializer().run()
for i in range(2000):
    batch_X, batch_Y = mnist.train.next_batch(100)
    train_step.run(feed_dict={X: batch_X, Y_: batch_Y})
print(accuracy.eval(feed_dict={X: mnist.test.images, Y_: mnist.test.labels}))
