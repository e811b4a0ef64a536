# Legacy fixture for tf2_eager/migration_report_test.py: TensorFlow under
# other names. Never run.
import tensorflow as T
import tensorflow.compat.v1 as tf1
from tensorflow.contrib import slim
from tensorflow import keras

session = T.Session()
images = tf1.placeholder(tf1.float32, [None, 784])
net = slim.fully_connected(images, 10)
model = keras.Sequential([keras.layers.Dense(10)])
tf1.disable_v2_behavior()
dropped = tf1.nn.dropout(images, 0.5)
