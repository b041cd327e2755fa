# edge-harness/runtime: the harness in a venv at /opt/edge-harness, on the Debian base.
#
# DEPENDENCIES_IMAGE is edge-harness/runtime-deps:<tag>: the base plus the venv with every Python
# dependency, installed from a host wheelhouse that was bind-mounted (so no wheel is left in a
# layer). Only the harness's own wheel is installed here, so a source edit rebuilds in seconds.
ARG DEPENDENCIES_IMAGE
FROM ${DEPENDENCIES_IMAGE}
COPY project /tmp/edge-harness-wheel
RUN /opt/edge-harness/bin/pip install --no-cache-dir --disable-pip-version-check --no-index \
        --find-links /tmp/edge-harness-wheel edge-harness \
    && rm -rf /tmp/edge-harness-wheel
ENV PATH=/opt/edge-harness/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    EDGE_HARNESS_IN_CONTAINER=1
