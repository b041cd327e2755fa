"""The generic python-backend model that runs ONNX files with ONNX Runtime.

``model.py`` here is not imported by the harness: it is package data copied into each version
directory of a staged ONNX model (see :mod:`harness.services.triton_repository`) and executed by
tritonserver's python backend stub.
"""

from pathlib import Path

#: the file copied into ``<model>/<version>/model.py``
MODEL_PY = Path(__file__).with_name("model.py")
