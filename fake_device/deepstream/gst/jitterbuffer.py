"""RTSP clips end on a slow pipeline: rtspsrc's jitterbuffers see the stream as open-ended.

Why this exists: GStreamer's ``rtpjitterbuffer`` (1.22 here, unchanged upstream since) deadlocks at
the end of a stream whose RTSP server announced where it ends (``Range: npt=0-10`` in the PLAY
reply: a clip served as a camera, as GstRtspServer serves a file) when the pipeline behind it is
slower than real time:

* from ``npt-stop`` in its sink caps the jitterbuffer estimates when the stream ends and keeps an
  end-of-stream timer; every frame it pops re-estimates and re-arms that timer, without waking its
  timer thread (which sleeps when it has no timer);
* once the timer has fired (estimated end + latency: 2 s after the clip's end with rtspsrc's
  default) while frames are still queued, the next popped frame re-arms it. When the EOS item
  comes out of the queue, the pushing thread waits for the timer queue to empty, the timer thread
  still sleeps, and both wait on the same condition for good — holding the src pad's stream lock.

So the EOS never leaves the jitterbuffer (the app never sees its stream end), and PAUSED→READY
blocks in ``gst_pad_stop_task`` on that lock: its flush signals the condition once, which wakes
only one of the two waiters. A Jetson keeps up with the camera (the queue is empty when the timer
fires); the CPU emulation is slower than real time, so every clip longer than a few seconds ends in
that state.

The remedy: ``npt-stop`` is taken out of the caps that reach each ``rtpjitterbuffer`` in a
pipeline, as a camera's open-ended range (``npt=now-``) would have it. The jitterbuffer then keeps
no end-of-stream timer; the stream still ends when the server sends its RTCP BYE (GstRtspServer
does at the end of the media) or rtspsrc's RTCP timeout declares the source gone — both send EOS
through the jitterbuffer, after the frames it holds. Nothing else in the jitterbuffer reads
``npt-stop`` (only its buffering mode's "close to EOS", which rtspsrc's default mode does not use).
"""

from __future__ import annotations

from fake_device.deepstream.gst.runtime import Gst

JITTERBUFFER_FACTORY = "rtpjitterbuffer"
NPT_STOP = "npt-stop"


def watch_jitterbuffers(bin_: Gst.Bin) -> int:
    """Make every rtpjitterbuffer added anywhere inside ``bin_`` from now on see open-ended caps.

    rtspsrc makes its rtpbin when it connects and rtpbin makes a jitterbuffer per stream when the
    first packet comes, so a bin watched before it goes to PAUSED sees them all. Returns the
    signal handler id (``bin_.disconnect(id)`` stops watching; jitterbuffers keep their probe).
    """
    return bin_.connect("deep-element-added", _on_element_added)


def top_level_bin(element: Gst.Element) -> Gst.Bin | None:
    """The outermost bin holding ``element`` (the pipeline), or None for an element in no bin."""
    top: Gst.Object = element
    while (parent := top.get_parent()) is not None:
        top = parent
    return top if top is not element and isinstance(top, Gst.Bin) else None


def _on_element_added(_bin: Gst.Bin, _sub_bin: Gst.Bin, element: Gst.Element) -> None:
    factory = element.get_factory()
    if factory is None or factory.get_name() != JITTERBUFFER_FACTORY:
        return
    sink = element.get_static_pad("sink")
    if sink is not None:
        sink.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, _open_ended_caps)


def without_field(caps: Gst.Caps, name: str) -> Gst.Caps | None:
    """``caps`` without the field ``name`` in any structure; None when no structure has it.

    Built anew: PyGObject hands out copies of a caps' structures, so removing a field from
    ``caps.get_structure(i)`` changes nothing in ``caps``.
    """
    structures = [caps.get_structure(i) for i in range(caps.get_size())]
    if not any(s.has_field(name) for s in structures):
        return None
    stripped = Gst.Caps.new_empty()
    for index, structure in enumerate(structures):
        structure.remove_field(name)
        stripped.append_structure_full(structure, caps.get_features(index).copy())
    return stripped


def _open_ended_caps(pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Replace a CAPS event carrying ``npt-stop`` by the same caps without it.

    PyGObject cannot swap the event inside the probe info, so the new event is sent to the pad
    (it passes this probe unchanged; the pad's stream lock is recursive) and the original dropped.
    """
    event = info.get_event()
    if event is None or event.type != Gst.EventType.CAPS:
        return Gst.PadProbeReturn.OK
    stripped = without_field(event.parse_caps(), NPT_STOP)
    if stripped is None:
        return Gst.PadProbeReturn.OK
    replacement = Gst.Event.new_caps(stripped)
    replacement.set_seqnum(event.get_seqnum())
    pad.send_event(replacement)
    return Gst.PadProbeReturn.DROP
