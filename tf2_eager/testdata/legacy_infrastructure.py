# Legacy fixture for tf2_eager/migration_report_test.py: the training
# infrastructure of TF 1.x programs (flags, logging, Estimator and hooks,
# MonitoredTrainingSession, Supervisor, ConfigProto, gfile, collections,
# tf.gradients, frozen graphs, a cluster, pre-1.0 summary names). Never run.
import tensorflow as tf

tf.app.flags.DEFINE_string("train_dir", "/tmp/train", "Where to write.")
FLAGS = tf.app.flags.FLAGS
tf.logging.set_verbosity(tf.logging.INFO)


class LoggerHook(tf.train.SessionRunHook):
    def before_run(self, run_context):
        return tf.train.SessionRunArgs(loss)


def model_fn(features, labels, mode):
    logits = tf.layers.dense(features["x"], 10)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        grads = tf.gradients(loss, tf.trainable_variables())
    return tf.estimator.EstimatorSpec(mode=mode, loss=loss)


estimator = tf.estimator.Estimator(model_fn=model_fn, model_dir=FLAGS.train_dir)
gpu_options = tf.GPUOptions(per_process_gpu_memory_fraction=0.5)
config = tf.ConfigProto(gpu_options=gpu_options)
config.gpu_options.allow_growth = True
run_options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
run_metadata = tf.RunMetadata()
loss = tf.reduce_mean(tf.square(tf.Variable(1.0)))
with tf.train.MonitoredTrainingSession(checkpoint_dir=FLAGS.train_dir, config=config,
                                       hooks=[LoggerHook()]) as monitored:
    monitored.run(loss, options=run_options, run_metadata=run_metadata)
supervisor = tf.train.Supervisor(logdir=FLAGS.train_dir)
if not tf.gfile.Exists(FLAGS.train_dir):
    tf.gfile.MakeDirs(FLAGS.train_dir)
graph_def = tf.GraphDef()
with tf.gfile.GFile("frozen.pb", "rb") as frozen:
    graph_def.ParseFromString(frozen.read())
tf.import_graph_def(graph_def, name="")
cluster = tf.train.ClusterSpec({"ps": ["ps0:2222"], "worker": ["worker0:2222"]})
server = tf.train.Server(cluster, job_name="worker", task_index=0)
tf.scalar_summary("loss", loss)
step_update = tf.assign_add(tf.train.get_or_create_global_step(), 1)
global_step = tf.contrib.framework.get_or_create_global_step()
cell = tf.contrib.rnn.LSTMCell(64)
tf.app.run()
