# edge-harness/device: a simulated Greengrass core device (edge-harness device run).
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
# ffmpeg: H.264 encoding and RTSP serving for the app's sinks (OpenCV's bundled FFmpeg cannot encode
# H.264). iproute2: tc, which shapes the device's link to its profile's speed (an LTE Jetson).
# Fetched from the Debian mirror the base was made from.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg iproute2 \
    && rm -rf /var/lib/apt/lists/*
# Scripts without RequiresPrivilege run as the component user: `nobody` by default (in every Debian),
# ggc_user:ggc_group as the Greengrass installer creates them on a real device. The default root
# /greengrass/v2 must be enterable by that user.
RUN groupadd --system ggc_group \
    && useradd --system --gid ggc_group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ggc_user \
    && mkdir -p /greengrass/v2 \
    && chmod 755 /greengrass /greengrass/v2
# In-container servers (the app's RTSP server, …) bind every interface of the container.
ENV EDGE_HARNESS_BIND_ADDRESS=0.0.0.0
ENTRYPOINT ["edge-harness", "device", "run"]
