# edge-harness/device: a simulated Greengrass core device (edge-harness device run).
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
# GStreamer 1.22 with the plugins DeepStream apps autoplug, its introspection data and GStreamer's
# PyGObject overrides (linked into the venv below): component apps run on real GStreamer with
# DeepStream's elements. ffmpeg: H.264 encoding and RTSP serving for the old-style sinks.
# iproute2: tc, which shapes the device's link to its profile's speed (an LTE Jetson).
# Fetched from the Debian mirror the base was made from.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg iproute2 \
        libgirepository-1.0-1 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
        gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp \
        gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0 \
        gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 \
    && rm -rf /var/lib/apt/lists/* \
    && /opt/edge-harness/bin/python -m harness.prerequisites python
# Scripts without RequiresPrivilege run as the component user: `nobody` by default (in every Debian),
# ggc_user:ggc_group as the Greengrass installer creates them on a real device. The default root
# /greengrass/v2 must be enterable by that user.
RUN groupadd --system ggc_group \
    && useradd --system --gid ggc_group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ggc_user \
    && mkdir -p /greengrass/v2 \
    && chmod 755 /greengrass /greengrass/v2
# In-container servers (the app's RTSP server, …) bind every interface of the container; the traffic
# app reads RTSP_BIND_ADDRESS (its own variable), the harness's sinks EDGE_HARNESS_BIND_ADDRESS.
ENV EDGE_HARNESS_BIND_ADDRESS=0.0.0.0 \
    RTSP_BIND_ADDRESS=0.0.0.0
ENTRYPOINT ["edge-harness", "device", "run"]
