"""Docker images of the docker backend, built offline (docs/containers.md, "Images").

No registry is needed: the base is a Debian root filesystem made by debootstrap from a Debian
mirror; the Python layers are installed from wheels made on the host; tritonserver and tansu come
from the wheels the harness already depends on. Each image's tag is a hash of its inputs, so
:func:`image_ref` is cheap and :func:`ensure_images` builds only what is missing.
"""

from __future__ import annotations

from harness.images.build import ensure_images
from harness.images.buildlog import ImageEvent
from harness.images.cache import images_cache
from harness.images.errors import ImageError
from harness.images.spec import IMAGE_NAMES, LABEL_IMAGE, LABEL_INPUTS, image_ref

__all__ = [
    "IMAGE_NAMES",
    "LABEL_IMAGE",
    "LABEL_INPUTS",
    "ImageError",
    "ImageEvent",
    "ensure_images",
    "image_ref",
    "images_cache",
]
