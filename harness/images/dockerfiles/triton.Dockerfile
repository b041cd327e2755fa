# edge-harness/triton: the tritonserver 2.51 of the nvidia-pytriton wheel with its python backend.
#
# harness.images.triton_layout lays out /opt/tritonserver/backends/python with the project's own
# functions (as the process backend does in its work directory) and writes /usr/local/bin/tritonserver,
# a wrapper that sets LD_LIBRARY_PATH to the wheel's bundled libraries and puts the venv first on PATH
# (the python backend stub finds its site-packages through the first python3 on PATH).
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
RUN python -m harness.images.triton_layout --backends /opt/tritonserver/backends \
        --wrapper /usr/local/bin/tritonserver
EXPOSE 8000 8001 8002
ENTRYPOINT ["tritonserver"]
