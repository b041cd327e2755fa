"""``from cuda import cuda, cudart`` (NVIDIA's cuda-python) as DeepStream samples use it.

deepstream_python_apps' ``common/platform_info.py`` asks CUDA whether the GPU is integrated to tell a
Jetson from a dGPU machine; the simulated device is a Jetson, so the one device reports
``integrated = 1``. Only the calls those samples make are here: anything else is an AttributeError
naming it.
"""
