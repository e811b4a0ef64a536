"""The documents' models in idiomatic TF2: tf.Module, GradientTape, tf.function.

Each model module has a twin of the same name in tf1_graph, with the same
variable names ("softmax_regression/weights"), so weights move across by name.
"""
