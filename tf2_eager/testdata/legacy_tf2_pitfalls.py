# Legacy fixture for tf2_eager/migration_report_test.py: TF2 code with the
# TF1 habits that break it. Never run.
import tensorflow as tf

images = tf.zeros([8, 28, 28, 1])
width = images.shape[2].value
height = images.get_shape()[1].value
scale = tf.constant(2.0)
names = {scale: "scale"}
cache = {}
cache[scale] = 1.0


@tf.function
def step(x):
    weights = tf.Variable(tf.ones([3]))
    return x * weights


@tf.function
def guarded_step(x, holder):
    if holder.weights is None:
        holder.weights = tf.Variable(tf.ones([3]))
    return x * holder.weights


optimizer = tf.keras.optimizers.Adam()
generator_variables = [tf.Variable(1.0)]
discriminator_variables = [tf.Variable(2.0)]
optimizer.apply_gradients(zip([tf.constant(1.0)], generator_variables))
optimizer.apply_gradients(zip([tf.constant(1.0)], discriminator_variables))
legacy_adam = tf.keras.optimizers.legacy.Adam()
