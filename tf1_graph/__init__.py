"""The documents' models in TF1 graph style, through tf.compat.v1.

Every run builds its own tf.Graph and opens a Session on it; nothing here
calls disable_eager_execution(), so this package and tf2_eager share one
process. Each model module has a twin of the same name in tf2_eager.
"""
