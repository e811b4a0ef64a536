"""Fixtures shared by the parity suite: the devices TensorFlow lists."""

import pytest
import tensorflow as tf


def _gpu_param():
    if not tf.config.list_physical_devices("GPU"):
        return pytest.param(
            "/GPU:0",
            marks=pytest.mark.skip(reason="no GPU visible to TensorFlow on this machine"),
            id="GPU:0",
        )
    return pytest.param("/GPU:0", id="GPU:0")


@pytest.fixture(params=[pytest.param("/CPU:0", id="CPU:0"), _gpu_param()])
def device(request):
    """Each device TensorFlow lists. On a GPU, TF32 matmuls are turned off:
    Ampere and newer GPUs would otherwise round float32 matmuls to TF32 and
    break the tight tolerances."""
    if "GPU" in request.param:
        tf.config.experimental.enable_tensor_float_32_execution(False)
    return request.param
