"""The serving signature both sides' SavedModels share, named once.

`serving_default` takes `images`, float32 [None, 784], and returns
`probabilities`, float32 [None, 10] (softmax of the logits), and `classes`,
int64 [None] (the argmax). tf1_graph/export.py and tf2_eager/export.py
build it; compat_tests/saved_model_test.py loads both. numpy only.
"""

SIGNATURE_KEY = "serving_default"
INPUT_KEY = "images"
PROBABILITIES_KEY = "probabilities"
CLASSES_KEY = "classes"
