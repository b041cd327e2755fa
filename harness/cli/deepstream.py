"""``edge-harness deepstream-app``: run a deepstream-app config on the CPU DeepStream emulation."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("deepstream-app")
@click.option(
    "-c",
    "--cfg-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The deepstream-app config (deepstream_app_config.txt).",
)
@click.option(
    "-i",
    "--input-uri",
    "--input",
    "input_uri",
    metavar="URI",
    help="Replaces the first source's uri (file://path or rtsp://...).",
)
@click.option("-t", "--tiledtext", is_flag=True, help="Show object labels in tiled mode (several sources).")
@click.pass_context
def deepstream_app(ctx: click.Context, cfg_file: Path, input_uri: str | None, tiledtext: bool) -> None:
    """Play CFG_FILE as `deepstream-app -c CFG_FILE` would on a Jetson, until end of stream.

    Sources, muxer, primary GIE (nvinfer or nvinferserver with a real Triton), tracker,
    nvdsanalytics, OSD, message broker and sinks come from the config. Prints **PERF: lines as
    configured; Ctrl-C or SIGTERM stops cleanly. Exit 0 at end of stream, 1 on an error.
    See docs/deepstream/reference-app.md.
    """
    from fake_device.deepstream.reference_app import run

    ctx.exit(run(cfg_file, input_uri=input_uri, show_bbox_text=tiledtext))
