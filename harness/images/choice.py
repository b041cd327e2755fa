"""Which image runs a service of the docker backend: one named for it, the upstream project's own
image, or the one built here (docs/containers.md, "Which image runs").

Where a registry is reachable the broker and Triton run from the images their projects publish
(``apache/kafka``, ``nvcr.io/nvidia/tritonserver``), as a team's own compose file would; where none
is (these CI machines), from the images :func:`~harness.images.build.ensure_images` builds offline.
The AWS endpoint and the simulated devices always run the harness's own images: moto's image has no
Greengrass V2 control plane or IoT Jobs data plane, and no upstream image has a simulated nucleus.

What an image *is* decides how it is started, not where its name came from: an image with the
label ``edge-harness.image=<name>`` takes the harness's entry points (``flavour`` "edge-harness");
any other image is started the upstream project's way (``flavour`` "upstream") — so a Triton
image mirrored into a team registry under another name still gets Triton's own command line.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.images.errors import ImageError
from harness.images.spec import LABEL_IMAGE, OVERRIDE_PREFIX, override

if TYPE_CHECKING:
    import docker

#: the images the projects publish, at the versions the harness's own images carry (Triton 24.10
#: is tritonserver 2.51, the version in nvidia-pytriton 0.7); a scenario or variable may name others
UPSTREAM_IMAGES: Mapping[str, str] = {
    "triton": "nvcr.io/nvidia/tritonserver:24.10-py3",
    "kafka": "apache/kafka:3.9.1",
}
POLICY_VARIABLE = "EDGE_HARNESS_IMAGE_POLICY"
#: auto: upstream where the engine has it or a registry serves it, else built; upstream: always the
#: upstream image (fail if it cannot be had); built: always the harness's own, built offline
POLICIES = ("auto", "upstream", "built")


@dataclass(frozen=True)
class ImageChoice:
    """The image for service ``name``, how to start it, and why it was chosen (for the log)."""

    name: str
    ref: str
    flavour: str
    reason: str


def default_policy() -> str:
    value = os.environ.get(POLICY_VARIABLE, "").strip() or "auto"
    if value not in POLICIES:
        raise ImageError(
            f"{POLICY_VARIABLE}={value!r} is not an image policy",
            hint=f"use one of: {', '.join(POLICIES)}",
        )
    return value


def choose_image(
    name: str,
    requested: str | None = None,
    *,
    policy: str | None = None,
    client: docker.DockerClient | None = None,
    progress: Callable[[str], None] | None = None,
    build: Callable[[str], str] | None = None,
) -> ImageChoice:
    """The image to run for ``name`` (``triton``, ``kafka``, ``aws``, ``device``).

    ``requested`` (a scenario's ``services.images.<name>``), else ``EDGE_HARNESS_IMAGE_<NAME>``,
    names an image to run as it is: present in the engine, or pulled. Otherwise ``policy`` (else
    ``EDGE_HARNESS_IMAGE_POLICY``, default ``auto``) picks the upstream image or the built one.
    ``build`` makes the harness's own image (default :func:`ensure_images`); ``client`` is the
    engine (default: connect). Errors are :class:`ImageError` with a hint.
    """
    from harness.images.engine import connect

    policy = policy or default_policy()
    if policy not in POLICIES:
        raise ImageError(f"{policy!r} is not an image policy", hint=f"use one of: {', '.join(POLICIES)}")
    engine = client or connect()
    say = progress or (lambda _text: None)
    named, origin = requested, "services.images." + name
    if named is None:
        named, origin = override(name), OVERRIDE_PREFIX + name.upper()
    if named is not None:
        return _named(name, named, f"named by {origin}", _obtain(engine, named, origin, say))
    upstream = UPSTREAM_IMAGES.get(name)
    if upstream is not None and policy != "built":
        if _present(engine, upstream):
            return ImageChoice(name, upstream, "upstream", "upstream image, present in the engine")
        reachable = registry_answers(engine, upstream)
        if reachable is None:
            _obtain(engine, upstream, f"policy {policy}", say)
            return ImageChoice(name, upstream, "upstream", "upstream image, pulled")
        if policy == "upstream":
            raise ImageError(
                f"the upstream image {upstream} for {name} is not in the engine and no registry "
                f"serves it: {reachable}",
                hint=f"docker load it, or use {POLICY_VARIABLE}=auto (or built) to build the harness's own",
            )
        say(f"{name}: no registry serves {upstream} ({reachable}): using the harness's own image")
    make = build or _ensure
    return ImageChoice(name, make(name), "edge-harness", "built by the harness")


def _ensure(name: str) -> str:
    from harness.images.build import ensure_images

    return ensure_images([name])[name]


def _labels(engine: docker.DockerClient, ref: str) -> dict[str, Any] | None:
    """The labels of image ``ref`` in the engine ({} if it has none); None if it is not there."""
    from harness.images.engine import inspect_image

    info = inspect_image(engine, ref)
    return None if info is None else (info.get("Config") or {}).get("Labels") or {}


def _present(engine: docker.DockerClient, ref: str) -> bool:
    return _labels(engine, ref) is not None


@functools.lru_cache(maxsize=32)
def registry_answers(engine: docker.DockerClient, ref: str) -> str | None:
    """None when a registry serves ``ref``'s manifest; else why not, in one line. Asked once per
    process and reference: where there is no registry the engine says so in milliseconds."""
    try:
        engine.images.get_registry_data(ref)
    except Exception as err:  # APIError (no such host, unauthorized, not found), timeouts
        return _first_line(err)
    return None


def _first_line(err: BaseException) -> str:
    text = getattr(err, "explanation", None) or str(err) or type(err).__name__
    return str(text).splitlines()[0][:300]


def _obtain(engine: docker.DockerClient, ref: str, origin: str, say: Callable[[str], None]) -> dict[str, Any]:
    """``ref`` present in the engine (pulled if need be); its labels."""
    labels = _labels(engine, ref)
    if labels is not None:
        return labels
    say(f"pulling {ref} ({origin})")
    try:
        engine.images.pull(ref)  # the SDK splits the tag or digest off, "latest" if none
    except Exception as err:
        raise ImageError(
            f"image {ref} ({origin}) is not in the engine and could not be pulled: {_first_line(err)}",
            hint="docker pull / docker load it first, or leave the setting out to build the harness's own",
        ) from err
    return _labels(engine, ref) or {}


def _named(name: str, ref: str, reason: str, labels: dict[str, Any]) -> ImageChoice:
    """A named image, started the way its label says; only Triton and Kafka may run an image that
    is not the harness's."""
    found = labels.get(LABEL_IMAGE)
    flavour = "edge-harness" if found == name else "upstream"
    if flavour == "upstream" and name not in UPSTREAM_IMAGES:
        what = f"the harness's {found!r} image" if found else "not an image of the harness"
        raise ImageError(
            f"image {ref} ({reason}) cannot run the {name} service: it is {what} "
            f"(no label {LABEL_IMAGE}={name})",
            hint=f"the {name} service needs the harness's own image: edge-harness images build "
            f"{name} (on a machine with a registry, push that and name it here)",
        )
    return ImageChoice(name, ref, flavour, reason)
