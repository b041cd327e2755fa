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
FLAVOURS = ("edge-harness", "upstream")


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
        _obtain(engine, named, origin, say)
        return _checked(engine, ImageChoice(name, named, _flavour(engine, named, name), f"named by {origin}"))
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


def _present(engine: docker.DockerClient, ref: str) -> bool:
    from harness.images.engine import inspect_image

    return inspect_image(engine, ref) is not None


def registry_answers(engine: docker.DockerClient, ref: str) -> str | None:
    """None when a registry serves ``ref``'s manifest; else why not, in one line. Asked once per
    process and reference: where there is no registry the engine says so in milliseconds."""
    return _registry_answer(engine, ref)


@functools.lru_cache(maxsize=32)
def _registry_answer(engine: docker.DockerClient, ref: str) -> str | None:
    try:
        engine.images.get_registry_data(ref)
    except Exception as err:  # APIError (no such host, unauthorized, not found), timeouts
        return _first_line(err)
    return None


def _first_line(err: BaseException) -> str:
    text = getattr(err, "explanation", None) or str(err) or type(err).__name__
    return str(text).splitlines()[0][:300]


def _obtain(engine: docker.DockerClient, ref: str, origin: str, say: Callable[[str], None]) -> None:
    """``ref`` present in the engine, pulled if need be."""
    if _present(engine, ref):
        return
    say(f"pulling {ref} ({origin})")
    repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    try:
        engine.images.pull(repository, tag=tag or "latest")
    except Exception as err:
        raise ImageError(
            f"image {ref} ({origin}) is not in the engine and could not be pulled: {_first_line(err)}",
            hint="docker pull / docker load it first, or leave the setting out to build the harness's own",
        ) from err


def _labels(engine: docker.DockerClient, ref: str) -> dict[str, Any]:
    from harness.images.engine import inspect_image

    info = inspect_image(engine, ref) or {}
    return (info.get("Config") or {}).get("Labels") or {}


def _flavour(engine: docker.DockerClient, ref: str, name: str) -> str:
    return "edge-harness" if _labels(engine, ref).get(LABEL_IMAGE) == name else "upstream"


def _checked(engine: docker.DockerClient, choice: ImageChoice) -> ImageChoice:
    """Only Triton and Kafka can run from an image that is not the harness's."""
    if choice.flavour == "upstream" and choice.name not in UPSTREAM_IMAGES:
        found = _labels(engine, choice.ref).get(LABEL_IMAGE)
        what = f"the harness's {found!r} image" if found else "not an image of the harness"
        raise ImageError(
            f"image {choice.ref} ({choice.reason}) cannot run the {choice.name} service: it is {what} "
            f"(no label {LABEL_IMAGE}={choice.name})",
            hint=f"the {choice.name} service needs the harness's own image: edge-harness images build "
            f"{choice.name} (on a machine with a registry, push that and name it here)",
        )
    return choice
