# Legacy fixture for tf2_eager/migration_report_test.py, in the style of the
# report's smallest TF 1.x program: two placeholders, their product and a
# tf.Session() that prints [4, 10, 18]. Never run.
import tensorflow as tf

X_1 = tf.placeholder(tf.float32, name="X_1")
X_2 = tf.placeholder(tf.float32, name="X_2")
multiply = tf.multiply(X_1, X_2, name="multiply")

with tf.Session() as session:
    result = session.run(multiply, feed_dict={X_1: [1, 2, 3], X_2: [4, 5, 6]})
    print(result)
