"""deepstream-app config files: the traffic app's config, path resolution, source expansion, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fake_device.deepstream.errors import ConfigError
from fake_device.deepstream.meta import FrameMeta, ObjectMeta
from fake_device.deepstream.reference_app import (
    VERSION_LINE,
    AppConfig,
    Color,
    KittiWriter,
    ObjectDisplay,
    SinkType,
    SourceType,
    load_app_config,
    main,
)

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "scenarios" / "traffic" / "app"
TRAFFIC = APP / "deepstream_app_config.txt"

BASE = """\
[streammux]
width=1280
height=720
batch-size=1

[source0]
enable=1
type=2
uri=file://clip.mp4

[sink0]
enable=1
type=1
"""


def write(tmp_path: Path, text: str, name: str = "app.txt") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, extra: str = "", base: str = BASE) -> AppConfig:
    return load_app_config(write(tmp_path, base + extra))


def error(tmp_path: Path, extra: str = "", base: str = BASE) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra, base)
    return info.value


# -- the traffic app's config ------------------------------------------------------------------


def test_traffic_config_parses_with_paths_next_to_it() -> None:
    config = load_app_config(TRAFFIC)
    assert config.application.enable_perf_measurement
    assert config.application.perf_measurement_interval_sec == 5
    assert (config.tiled_display.enable, config.tiled_display.rows, config.tiled_display.columns) == (1, 1, 1)
    assert (config.tiled_display.width, config.tiled_display.height) == (1280, 720)
    mux = config.streammux
    assert (mux.width, mux.height, mux.batch_size, mux.batched_push_timeout) == (1280, 720, 1, 40000)
    assert not mux.live_source and mux.attach_sys_ts_as_ntp

    [source] = config.source_groups
    assert source.type == SourceType.URI_MULTIPLE and source.num_sources == 1
    assert source.uri == f"file://{APP.resolve()}/awsgg-example.mp4"
    [spec] = config.sources()
    assert (spec.source_id, spec.camera_id, spec.uri) == (0, 0, source.uri)

    gie = config.primary_gie
    assert gie.enable and gie.plugin_type == 1 and gie.gie_unique_id == 1
    assert gie.config_file == APP.resolve() / "config_infer_primary_rtdetr_triton.yml"
    assert config.tracker.enable
    assert config.tracker.ll_config_file == APP.resolve() / "config_tracker_NvSORT.yml"
    assert config.analytics.enable
    assert config.analytics.config_file == APP.resolve() / "config_nvdsanalytics.txt"
    assert config.osd.enable and config.osd.text_size == 15 and config.osd.border_width == 5
    assert config.osd.text_color == Color(1.0, 1.0, 1.0, 1.0)  # "1;1;1;1;": GLib ignores the last ';'
    assert config.osd.text_bg_color == Color(0.3, 0.3, 0.3, 1.0)
    assert not config.file_loop

    rtsp, broker = config.sinks
    assert rtsp.type == SinkType.RTSP and (rtsp.rtsp_port, rtsp.codec, rtsp.bitrate) == (8554, 1, 4_000_000)
    assert broker.type == SinkType.MSG_CONV_BROKER
    assert broker.msgconv.config_file == APP.resolve() / "msgconv_config.txt"
    assert (broker.msgconv.payload_type, broker.msgconv.msg2p_new_api) == (1, False)
    assert broker.conn_str == "localhost;9092" and broker.topic == "quickstart-events"
    assert broker.proto_lib is not None and broker.proto_lib.endswith("libnvds_kafka_proto.so")


def test_seed_style_sections_are_accepted(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        [application]
        enable-perf-measurement=1
        perf-measurement-interval-sec=2
        [tiled-display]
        enable=0
        gpu-id=0
        nvbuf-memory-type=0
        [osd]
        enable=1
        clock-color=1;0;0;0
        font=Serif
        show-clock=0
        [tests]
        file-loop=1
        [secondary-gie0]
        enable=0
        config-file=nothing.txt
        [ds-example]
        enable=0
        """,
    )
    assert config.application.perf_measurement_interval_sec == 2
    assert config.file_loop and config.sources()[0].file_loop


# -- paths -------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = tmp_path / "configs"
    (configs / "sub").mkdir(parents=True)
    (configs / "sub" / "pgie.txt").write_text("x")
    (tmp_path / "tracker.yml").write_text("x")
    (configs / "kitti").mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # the working directory must not matter
    path = write(
        configs,
        BASE
        + """
        [source1]
        enable=1
        type=2
        uri=file:///abs/clip.mp4
        [source2]
        enable=1
        type=4
        uri=rtsp://camera.local:554/stream
        [primary-gie]
        enable=1
        config-file=sub/pgie.txt
        [tracker]
        enable=1
        ll-config-file=../tracker.yml
        [application]
        kitti-track-output-dir=kitti
        [sink1]
        enable=1
        type=3
        output-file=out.mp4
        """,
    )
    config = load_app_config(path)
    folder = configs.resolve()
    assert [s.uri for s in config.sources()] == [
        f"file://{folder}/clip.mp4",
        "file:///abs/clip.mp4",
        "rtsp://camera.local:554/stream",
    ]
    assert config.primary_gie.config_file == folder / "sub" / "pgie.txt"
    assert config.tracker.ll_config_file is not None and config.tracker.ll_config_file.resolve() == (
        tmp_path.resolve() / "tracker.yml"
    )
    assert config.application.kitti_track_output_dir == folder / "kitti"
    # filesink gets output-file as written: relative to the working directory
    assert config.sinks[1].output_file == "out.mp4"


def test_input_uri_replaces_the_first_source_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert config.sources("file://other.mp4")[0].uri == f"file://{Path.cwd()}/other.mp4"
    assert config.sources("rtsp://cam/x")[0].uri == "rtsp://cam/x"


def test_a_source_without_uri_needs_the_input_option(tmp_path: Path) -> None:
    config = load(tmp_path, base=BASE.replace("uri=file://clip.mp4\n", ""))
    with pytest.raises(ConfigError, match=r"app.txt:6: \[source0\] has no uri"):
        config.sources()
    assert config.sources("rtsp://cam/x")[0].uri == "rtsp://cam/x"


# -- sources -----------------------------------------------------------------------------------


def test_multi_uri_num_sources_appends_copies_after_all_groups(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        base=BASE.replace("type=2\nuri=file://clip.mp4", "type=3\nuri=file://clip.mp4\nnum-sources=3"),
        extra="""
        [source4]
        enable=1
        type=2
        uri=file:///data/b.mp4
        [source7]
        enable=0
        type=2
        uri=file:///data/never.mp4
        """,
    )
    clip = f"file://{tmp_path.resolve()}/clip.mp4"
    specs = config.sources()
    assert [(s.source_id, s.uri, s.camera_id, s.group) for s in specs] == [
        (0, clip, 0, "source0"),
        (1, "file:///data/b.mp4", 4, "source4"),
        (2, clip, 0, "source0"),
        (3, clip, 0, "source0"),
    ]


def test_multi_uri_numbers_copies_with_printf(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        base=BASE.replace(
            "type=2\nuri=file://clip.mp4", "type=3\nuri=file:///cams/cam_%02d.mp4\nnum-sources=2"
        ),
    )
    assert [s.uri for s in config.sources()] == ["file:///cams/cam_00.mp4", "file:///cams/cam_01.mp4"]


def test_num_sources_is_ignored_for_type_2_and_clamped(tmp_path: Path) -> None:
    assert (
        len(
            load(
                tmp_path, base=BASE.replace("uri=file://clip.mp4", "uri=file://c.mp4\nnum-sources=4")
            ).sources()
        )
        == 1
    )
    config = load(
        tmp_path, base=BASE.replace("type=2\nuri=file://clip.mp4", "type=3\nuri=file://c.mp4\nnum-sources=0")
    )
    assert len(config.sources()) == 1


def test_a_group_without_enable_is_skipped_unread(tmp_path: Path) -> None:
    config = load(tmp_path, "\n[source1]\ntype=1\nbogus-key=1\n[sink1]\nenable=0\ntype=99\n")
    assert [g.group for g in config.source_groups] == ["source0"]
    assert len(config.sinks) == 1


# -- errors ------------------------------------------------------------------------------------


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    err = error(tmp_path, base=BASE.replace("batch-size=1", "batch_size=1"))
    assert str(err).startswith(f"{tmp_path / 'app.txt'}:4: [streammux] unknown key 'batch_size'")
    assert err.hint == "did you mean 'batch-size'?"


def test_unknown_key_in_a_sink(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[sink1]\nenable=1\ntype=4\nrtsp_port=8554\n")
    assert err.line == 18 and "[sink1] unknown key 'rtsp_port'" in str(err)
    assert err.hint == "did you mean 'rtsp-port'?"


def test_unknown_group_names_line_and_suggests(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[primary_gie]\nenable=1\n")
    assert err.line == 15 and "unknown group [primary_gie]" in str(err)
    assert err.hint == "did you mean 'primary-gie'?"


@pytest.mark.parametrize(
    ("group", "what"),
    [
        ("secondary-gie0", "secondary inference"),
        ("pre-process", "nvdspreprocess"),
        ("ds-example", "dsexample"),
        ("img-save", "image saving"),
        ("message-consumer0", "message consumer"),
    ],
)
def test_enabled_groups_that_are_not_emulated_name_their_line(tmp_path: Path, group: str, what: str) -> None:
    err = error(tmp_path, f"\n# a comment\n[{group}]\nenable=1\n")
    assert err.line == 16
    assert f"app.txt:16: [{group}] (" in str(err) and "is not emulated" in str(err) and what in str(err)
    assert err.hint is not None and "enable=0" in err.hint


def test_source_list_is_not_emulated_even_without_enable(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[source-list]\nnum-source-bins=1\nlist=file:///a.mp4\n")
    assert "[source-list] ([source-list] / nvmultiurisrcbin) is not emulated" in str(err)


@pytest.mark.parametrize(("source_type", "what"), [(1, "camera-v4l2"), (5, "camera-csi")])
def test_camera_sources_are_not_emulated(tmp_path: Path, source_type: int, what: str) -> None:
    err = error(tmp_path, base=BASE.replace("type=2\nuri=file://clip.mp4", f"type={source_type}"))
    assert err.line == 8
    assert f"[source0] type={source_type} ({what}" in str(err) and "is not emulated" in str(err)
    assert err.hint is not None and "rtsp://" in err.hint


def test_rtsp_type_needs_an_rtsp_uri(tmp_path: Path) -> None:
    err = error(tmp_path, base=BASE.replace("type=2", "type=4"))
    assert err.line == 9 and "type=4 (RTSP) needs an rtsp:// URI" in str(err)


def test_primary_gie_config_file_that_does_not_exist_names_the_path(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[primary-gie]\nenable=1\nplugin-type=0\nconfig-file=models/pgie.txt\n")
    assert err.line == 18
    assert f"[primary-gie] config-file: {tmp_path.resolve()}/models/pgie.txt does not exist" in str(err)
    assert err.hint is not None and "relative to the folder of this config file" in err.hint


def test_primary_gie_without_config_file(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[primary-gie]\nenable=1\n")
    assert err.line == 15 and "[primary-gie] has no config-file" in str(err)


def test_primary_gie_plugin_type_must_be_emulated(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("x")
    err = error(tmp_path, "\n[primary-gie]\nenable=1\nplugin-type=2\nconfig-file=p.txt\n")
    assert err.line == 17 and "plugin-type=2 is not emulated" in str(err)


@pytest.mark.parametrize(
    ("value", "why"),
    [("1;0;0", "three numbers"), ("255;0;0;1", "bytes, not fractions"), ("red", "not numbers")],
)
def test_bad_colour(tmp_path: Path, value: str, why: str) -> None:
    err = error(tmp_path, f"\n[osd]\nenable=1\ntext-color={value}\n")
    assert err.line == 17, why
    assert f"[osd] text-color={value!r} is not a colour" in str(err)
    assert err.expected == "4 numbers r;g;b;a between 0 and 1, e.g. 1;0;0;1"


def test_bbox_colours_per_class(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("x")
    config = load(
        tmp_path,
        "\n[primary-gie]\nenable=1\nconfig-file=p.txt\nbbox-border-color0=1;0;0;1\nbbox-border-color=0;1;0;1\n"
        "bbox-bg-color2=0;0;1;0.5\n",
    )
    gie = config.primary_gie
    assert gie.bbox_border_colors == {0: Color(1, 0, 0, 1), -1: Color(0, 1, 0, 1)}
    assert gie.bbox_bg_colors == {2: Color(0, 0, 1, 0.5)}
    err = error(tmp_path, "\n[primary-gie]\nenable=1\nconfig-file=p.txt\nbbox-border-color0=2;0;0;1\n")
    assert err.line == 18 and "bbox-border-color0" in str(err)


def test_integers_are_checked(tmp_path: Path) -> None:
    err = error(tmp_path, base=BASE.replace("width=1280", "width=1280px"))
    assert err.line == 2 and "[streammux] width='1280px' is not an integer" in str(err)
    err = error(tmp_path, base=BASE.replace("[sink0]\nenable=1", "[sink0]\nenable=true"))
    assert "[sink0] enable='true' is not an integer" in str(err)


def test_not_emulated_keys_unless_harmless(tmp_path: Path) -> None:
    assert load(tmp_path, base=BASE.replace("batch-size=1", "batch-size=1\nsync-inputs=0"))
    err = error(tmp_path, base=BASE.replace("batch-size=1", "batch-size=1\nsync-inputs=1"))
    assert err.line == 5 and "[streammux] sync-inputs: input synchronisation is not emulated" in str(err)


def test_streammux_needs_a_size(tmp_path: Path) -> None:
    err = error(tmp_path, base=BASE.replace("width=1280\n", ""))
    assert err.line == 1 and "width and height must be set" in str(err)


def test_sink_and_broker_checks(tmp_path: Path) -> None:
    sink6 = (
        "\n[sink1]\nenable=1\ntype=6\nmsg-conv-payload-type=1\n"
        "msg-broker-proto-lib=/x/libnvds_kafka_proto.so\n"
    )
    err = error(tmp_path, sink6)
    assert "[sink1] type=6 needs msg-broker-conn-str" in str(err)
    err = error(tmp_path, sink6 + "msg-broker-conn-str=localhost:9092\n")
    assert err.line == 20 and "[sink1] msg-broker-conn-str" in str(err) and "has no port" in str(err)
    err = error(
        tmp_path, sink6.replace("libnvds_kafka_proto", "libnvds_amqp_proto") + "msg-broker-conn-str=h;1\n"
    )
    assert err.line == 19 and "libnvds_amqp_proto.so is not emulated" in str(err)
    err = error(tmp_path, sink6.replace("payload-type=1", "payload-type=0") + "msg-broker-conn-str=h;1\n")
    assert "msg-conv-payload-type=0 (full schema) needs msg-conv-config" in str(err)
    err = error(tmp_path, "\n[sink1]\nenable=1\ntype=3\n")
    assert err.line == 15 and "type=3 (file) needs output-file" in str(err)
    err = error(tmp_path, "\n[sink1]\nenable=1\ntype=7\n")
    assert err.line == 17 and "type=7 is not a sink type" in str(err)


def test_tracker_library_must_be_nvmultiobjecttracker(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[tracker]\nenable=1\nll-lib-file=/opt/x/libnvds_mot_klt.so\n")
    assert err.line == 17 and "ll-lib-file libnvds_mot_klt.so is not emulated" in str(err)


def test_kitti_folder_must_exist(tmp_path: Path) -> None:
    err = error(tmp_path, "\n[application]\nkitti-track-output-dir=missing\n")
    assert err.line == 16 and "does not exist" in str(err) and "silently writes nothing" in str(err.hint)


def test_yaml_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="YAML deepstream-app configs are not emulated"):
        load_app_config(tmp_path / "app.yml")


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="file does not exist"):
        load_app_config("/nonexistent/app.txt")


# -- KITTI output ------------------------------------------------------------------------------


def test_kitti_track_lines_follow_deepstream_app(tmp_path: Path) -> None:
    frame = FrameMeta(
        source_id=2, frame_num=17, ntp_timestamp=0, source_frame_width=1280, source_frame_height=720
    )
    frame.objects.append(
        ObjectMeta(class_id=0, confidence=0.9, left=10.5, top=20.25, width=30, height=40, obj_label="car",
                   object_id=7, tracker_confidence=1.0)
    )  # fmt: skip
    from fake_device.deepstream.meta import BatchMeta

    KittiWriter(tmp_path, track=True)(BatchMeta(frames=[frame]))
    text = (tmp_path / "00_002_000017.txt").read_text()
    assert (
        text
        == "car 7 0.0 0 0.0 10.500000 20.250000 40.500000 60.250000 0.0 0.0 0.0 0.0 0.0 0.0 0.0 1.000000\n"
    )
    KittiWriter(tmp_path, track=False)(BatchMeta(frames=[frame]))
    text = (tmp_path / "00_002_000017.txt").read_text()
    assert (
        text == "car 0.0 0 0.0 10.500000 20.250000 40.500000 60.250000 0.0 0.0 0.0 0.0 0.0 0.0 0.0 0.900000\n"
    )


def test_keys_the_elements_get(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "\n[sink1]\nenable=1\ntype=4\nudp-port=5600\nudp-buffer-size=1000\nenc-type=1\niframeinterval=15\n"
        "\n[osd]\nenable=1\nshow-clock=1\nclock-color=1;0;0;1\nclock-text-size=20\nfont=Sans\nprocess-mode=0\n"
        "\n[tracker]\nenable=1\ndisplay-tracking-id=0\ntracking-id-reset-mode=2\n",
    )
    rtsp = config.sinks[1]
    assert (rtsp.udp_port, rtsp.udp_buffer_size, rtsp.enc_type, rtsp.iframeinterval) == (5600, 1000, 1, 15)
    assert (
        config.sinks[0].udp_port == 5000 and config.sinks[0].iframeinterval is None
    )  # parse_sink's defaults
    osd = config.osd
    assert osd.show_clock and osd.clock_color == Color(1, 0, 0, 1) and osd.clock_text_size == 20
    assert (osd.font, osd.process_mode) == ("Sans", 0)
    assert not config.tracker.display_tracking_id and config.tracker.tracking_id_reset_mode == 2
    err = error(tmp_path, "\n[sink1]\nenable=1\ntype=4\nudp-port=70000\n")
    assert err.line == 18 and "[sink1] udp-port=70000 is not a port" in str(err)


def test_object_display_writes_what_process_meta_writes(tmp_path: Path) -> None:
    from fake_device.deepstream.meta import BatchMeta

    frame = FrameMeta(
        source_id=0, frame_num=0, ntp_timestamp=0, source_frame_width=1280, source_frame_height=720
    )
    car = ObjectMeta(
        class_id=0,
        confidence=0.9,
        left=10,
        top=20,
        width=30,
        height=40,
        obj_label="car",
        object_id=(7 << 32) | 5,
        unique_component_id=1,
    )
    bus = ObjectMeta(
        class_id=2,
        confidence=0.8,
        left=100,
        top=200,
        width=30,
        height=40,
        obj_label="bus",
        unique_component_id=1,
    )  # untracked
    other = ObjectMeta(class_id=0, confidence=0.8, left=5, top=5, width=3, height=4, obj_label="x",
                       unique_component_id=9)  # fmt: skip
    frame.objects.extend([car, bus, other])
    display = ObjectDisplay(
        gie_unique_id=1,
        border_colors={2: Color(0, 0, 1, 1)},
        bg_colors={0: Color(0, 1, 0, 0.5)},
        border_width=4,
        text_color=Color(1, 1, 1, 1),
        text_size=12,
    )
    display(BatchMeta(frames=[frame]))
    assert [display.label(o) for o in (car, bus)] == ["car 5", "bus"]  # the lower 32 bits of the id
    assert (car.rect_params.border_color.red, car.rect_params.border_width) == (1.0, 4)  # default red
    assert car.rect_params.has_bg_color == 1 and car.rect_params.bg_color.green == 1.0
    assert bus.rect_params.border_color.blue == 1.0 and bus.rect_params.has_bg_color == 0
    assert other.rect_params.border_width != 4  # another GIE's object keeps its colours
    assert (car.text_params.x_offset, car.text_params.y_offset) == (10, 0)  # top - 30, not below 0
    assert bus.text_params.y_offset == 170 and bus.text_params.font_params.font_size == 12
    display.show_text = False
    display(BatchMeta(frames=[frame]))
    from fake_device.deepstream import cmemory

    assert cmemory.string_at(car.text_params.display_text) == ""  # tiled, several sources, no -t


# -- command line ------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0
    assert capsys.readouterr().out == VERSION_LINE + "\n"
    assert VERSION_LINE == "deepstream-app version 7.1.0 (edge-harness emulation)"


def test_config_errors_exit_1_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, BASE.replace("batch-size=1", "batchsize=1"))
    assert main(["-c", str(path)]) == 1
    out = capsys.readouterr()
    assert out.err.startswith(f"ERROR: {path}:4: [streammux] unknown key 'batchsize'")
    assert "App run failed" in out.out


def test_missing_source_file_fails_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE)
    assert main(["-c", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"ERROR: [source0] source file://{tmp_path.resolve()}/clip.mp4: no such file" in err


def test_cfg_file_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "-c/--cfg-file" in capsys.readouterr().err


def test_cli_subcommand_reports_config_errors(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main as cli

    path = write(tmp_path, BASE + "\n[secondary-gie0]\nenable=1\n")
    result = CliRunner().invoke(cli, ["deepstream-app", "-c", str(path)])
    assert result.exit_code == 1
    assert (
        f"ERROR: {path}:15: [secondary-gie0] (secondary inference (an SGIE)) is not emulated" in result.output
    )
    assert "App run failed" in result.output


@pytest.mark.parametrize(
    ("keys", "skip"),
    [("", 0), ("dec-skip-frames=1", 1), ("dec-skip-frames=2", 2), ("intra-decode-enable=1", 2),
     ("intra-decode-enable=1\ndec-skip-frames=1", 2)],
)  # fmt: skip
def test_decoder_frame_skipping_reaches_the_source_specs(tmp_path: Path, keys: str, skip: int) -> None:
    """deepstream_source_bin.c: intra-decode-enable sets the decoder's skip-frames to 2."""
    config = load(tmp_path, base=BASE.replace("uri=file://clip.mp4", f"uri=file://clip.mp4\n{keys}"))
    assert [s.skip_frames for s in config.sources()] == [skip]


def test_dec_skip_frames_out_of_range_names_its_line(tmp_path: Path) -> None:
    err = error(tmp_path, base=BASE.replace("uri=file://clip.mp4", "uri=file://clip.mp4\ndec-skip-frames=3"))
    assert err.line == 10 and "[source0] dec-skip-frames=3 must be 0, 1 or 2" in str(err)
    assert "only key frames" in (err.hint or "")


def test_the_source_bin_sets_skip_frames_on_the_decoder() -> None:
    """The decodebin child hook gives nvv4l2decoder the source's skip-frames and drop interval."""
    from fake_device.deepstream.gst.registry import register_all
    from fake_device.deepstream.gst.runtime import Gst
    from fake_device.deepstream.reference_app.config import SourceSpec
    from fake_device.deepstream.reference_app.source_bin import _on_decoder_child

    register_all()
    spec = SourceSpec(0, "file:///x.mp4", 0, "source0", SourceType.URI, drop_frame_interval=3, skip_frames=2)
    decoder = Gst.ElementFactory.make("nvv4l2decoder", None)
    _on_decoder_child(Gst.Bin.new(None), Gst.Bin.new(None), decoder, spec)
    assert int(decoder.get_property("skip-frames")) == 2
    assert decoder.get_property("drop-frame-interval") == 3
