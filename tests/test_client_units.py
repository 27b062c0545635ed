"""svd_suite_client without a server: event parsing, error text, safe file placement."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from svd_suite_client import events as ev
from svd_suite_client.client import terminal_from_history
from svd_suite_client.errors import ExecutionFailed, PromptRejected
from svd_suite_client.outputs import RunResult, write_atomic

SAMPLES = Path(__file__).resolve().parent / "data" / "comfyui"  # recorded server answers


def sample(name: str):
    return json.loads((SAMPLES / name).read_text())


def parsed_messages(name: str) -> list[ev.Event]:
    return [ev.parse_text(json.dumps(m["msg"])) for m in sample(name)["messages"] if m["kind"] == "text"]


def test_execution_error_message_becomes_error_event_with_node_and_message():
    errors = [e for e in parsed_messages("ws_execution_error.json") if isinstance(e, ev.Error)]
    assert len(errors) == 1
    assert (errors[0].node_id, errors[0].node_type) == ("2", "ProbeTestFail")
    assert "boom" in errors[0].message and errors[0].exception_type == "ValueError"
    assert errors[0].traceback


def test_interrupt_message_becomes_interrupted_event():
    kinds = [type(e) for e in parsed_messages("ws_interrupt.json")]
    assert ev.Interrupted in kinds and ev.Success not in kinds


def test_executing_null_after_success_parses_as_idle_executing_not_a_second_terminal():
    events = parsed_messages("ws_empty_image_save.json")
    terminal = [e for e in events if isinstance(e, ev.TERMINAL)]
    assert len(terminal) == 1 and isinstance(terminal[0], ev.Success)
    assert isinstance(events[-1], ev.Executing) and events[-1].node is None


def test_progress_message_carries_value_max_and_node():
    progress = [e for e in parsed_messages("ws_slow_with_previews.json") if isinstance(e, ev.Progress)]
    assert progress and progress[0].max == 20 and progress[0].node == "2" and progress[0].prompt_id


def test_binary_event_1_preview_yields_image_bytes_and_format():
    image = b"\x89PNG\r\n\x1a\nrest"
    event = ev.parse_binary(struct.pack(">II", 1, 2) + image)
    assert isinstance(event, ev.Preview) and event.image == image and event.format == "png"
    assert event.prompt_id is None


def test_binary_event_4_preview_yields_metadata_prompt_and_node():
    meta = json.dumps({"node_id": "7", "prompt_id": "p-1", "image_type": "image/jpeg"}).encode()
    image = b"\xff\xd8\xff\xe0jpeg"
    event = ev.parse_binary(struct.pack(">II", 4, len(meta)) + meta + image)
    assert (event.prompt_id, event.node, event.format, event.image) == ("p-1", "7", "jpeg", image)


def test_unknown_message_kind_becomes_other_not_an_exception():
    event = ev.parse_text(json.dumps({"type": "brand_new", "data": {"x": 1}}))
    assert isinstance(event, ev.Other) and event.type == "brand_new"


def test_preview_to_json_reports_byte_length_not_bytes():
    data = ev.Preview(image=b"12345", format="png").to_json()
    assert data["image"] == 5 and data["event"] == "preview"
    json.dumps(data)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_input", "node 2 (SaveImage) input images: Required input is missing"),
        ("bad_value", "node 1 (EmptyImage) input width: Value 0 smaller than min of 1 (got 0)"),
        ("svd_missing_ckpt", "node 1 (ImageOnlyCheckpointLoader) input ckpt_name: Value not in list"),
        ("unknown_class_type", "Cannot execute because node NoSuchNode does not exist."),
    ],
)
def test_rejection_lines_name_node_class_input_and_message(case, expected):
    error = PromptRejected(sample("bad_workflows_400.json")[case]["body"])
    assert any(line.startswith(expected) for line in error.lines), error.lines
    assert "\n" not in str(error)


def test_execution_failed_text_is_one_line_naming_node_and_type():
    error = ExecutionFailed("p", "3", "SaveImage", "first line\nsecond line", "Exception")
    assert str(error) == "node 3 (SaveImage) failed: Exception: first line"
    assert error.message == "first line\nsecond line"


def test_history_entries_map_to_terminal_events():
    error_entry = next(iter(sample("history_execution_error.json").values()))
    interrupted_entry = next(iter(sample("history_interrupted.json").values()))
    ok_entry = next(iter(sample("history_custom_node_video_outputs.json").values()))
    assert isinstance(terminal_from_history("a", error_entry), ev.Error)
    assert isinstance(terminal_from_history("b", interrupted_entry), ev.Interrupted)
    assert isinstance(terminal_from_history("c", ok_entry), ev.Success)
    assert terminal_from_history("d", {}) is None


def test_run_result_lists_animated_video_outputs_and_skips_temp_by_default():
    entry = next(iter(sample("history_custom_node_video_outputs.json").values()))
    result = RunResult(prompt_id="x", history=entry)
    names = {f.filename for f in result.files()}
    assert names == {"probe_webp_00003_.webp", "probe_webm_00003_.webm", "probe_video_00003_.mp4"}
    assert all(f.animated for f in result.files())
    assert len(result.files(("temp",))) == 8


def test_atomic_write_never_overwrites_and_leaves_no_temp_files(tmp_path):
    first = write_atomic(tmp_path / "a.png", [b"one"])
    second = write_atomic(tmp_path / "a.png", [b"two"])
    assert (first.name, second.name) == ("a.png", "a_1.png")
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_1.png"]


def test_downloaded_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    os.umask(mask)
    path = write_atomic(tmp_path / "v.mp4", [b"video"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_atomic_write_failure_leaves_no_half_file(tmp_path):
    def chunks():
        yield b"partial"
        raise OSError("connection reset")

    with pytest.raises(OSError):
        write_atomic(tmp_path / "v.mp4", chunks())
    assert list(tmp_path.iterdir()) == []


def test_terminal_bar_draws_node_and_step_progress_then_ends_the_line():
    import io

    from svd_suite_client.progress import TerminalBar

    stream = io.StringIO()
    bar = TerminalBar(stream=stream, node_names={"3": "SVDSuite_Sampler"}, width=10)
    bar.event(ev.Executing(prompt_id="p", node="3"))
    bar.event(ev.Progress(prompt_id="p", node="3", value=5, max=10))
    bar.event(ev.Success(prompt_id="p"))
    text = stream.getvalue()
    assert "running 3 SVDSuite_Sampler" in text
    assert "[#####.....] 5/10 3 SVDSuite_Sampler" in text and text.endswith("\n")


def test_json_lines_reporter_writes_one_object_per_event_and_skips_unmodelled_ones():
    import io

    from svd_suite_client.progress import JsonLines

    stream = io.StringIO()
    reporter = JsonLines(stream)
    reporter.event(ev.Progress(prompt_id="p", node="2", value=1, max=4))
    reporter.event(ev.Other(prompt_id="p", type="progress_state", data={}))
    reporter.summary({"status": "success", "outputs": ["a.mp4"]})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["progress", "summary"]
    assert lines[0]["value"] == 1 and lines[1]["outputs"] == ["a.mp4"]
