"""svd_suite_client against the real ComfyUI server (shared session fixture)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time

import pytest
import requests
from svd_suite_client import AsyncComfyClient, ComfyClient, ExecutionFailed, Interrupted, PromptRejected
from svd_suite_client import events as ev
from svd_suite_client.uiformat import ui_to_api

_colors = itertools.count(1)


def trivial(prefix: str = "client/t", output: str = "SaveImage") -> dict:
    """EmptyImage → SaveImage; a fresh colour each time so the server never serves it from cache."""
    save_inputs = {"images": ["1", 0]}
    if output == "SaveImage":
        save_inputs["filename_prefix"] = prefix
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": next(_colors)},
        },
        "2": {"class_type": output, "inputs": save_inputs},
    }


def slow(blurs: int) -> dict:
    """A chain of ImageBlur nodes (~0.5-1 s each here); ComfyUI checks interrupts between nodes."""
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 4, "color": next(_colors)},
        }
    }
    for i in range(blurs):
        prompt[str(i + 2)] = {
            "class_type": "ImageBlur",
            "inputs": {"image": [str(i + 1), 0], "blur_radius": 15, "sigma": 1.0},
        }
    prompt["999"] = {"class_type": "PreviewImage", "inputs": {"images": [str(blurs + 1), 0]}}
    return prompt


@pytest.fixture(scope="module")
def client(comfyui_server):
    with ComfyClient(comfyui_server.url) as c:
        yield c


def test_run_returns_outputs_and_downloads_them_without_overwriting(client, tmp_path):
    result = client.run(trivial(), timeout=60)
    assert result.status == "success"
    files = result.files()
    assert len(files) == 1 and files[0].subfolder == "client"
    first = client.download_outputs(result, tmp_path)
    second = client.download_outputs(result, tmp_path)
    assert first[0].read_bytes()[:4] == b"\x89PNG"
    assert first[0] != second[0] and first[0].read_bytes() == second[0].read_bytes()


def test_run_sees_typed_events_in_order_ending_with_success(client):
    seen = []
    client.run(trivial(), timeout=60, on_event=seen.append)
    kinds = [type(e) for e in seen if not isinstance(e, ev.Other)]
    assert kinds[0] is ev.Started and kinds[-1] is ev.Success
    assert ev.Executing in kinds and ev.Executed in kinds
    assert sum(k in ev.TERMINAL for k in kinds) == 1


def test_rejected_prompt_raises_with_node_and_input_named(client):
    prompt = trivial()
    del prompt["2"]["inputs"]["images"]
    with pytest.raises(PromptRejected) as caught:
        client.run(prompt, timeout=60)
    assert caught.value.lines == ["node 2 (SaveImage) input images: Required input is missing"]


def test_node_failing_at_run_time_raises_execution_failed_with_node_type_and_message(client):
    with pytest.raises(ExecutionFailed) as caught:
        client.run(trivial(prefix="../../../outside"), timeout=60)
    error = caught.value
    assert (error.node_id, error.node_type) == ("2", "SaveImage")
    assert "outside the output folder" in error.message and error.traceback


def test_interrupt_stops_a_running_prompt_and_raises_interrupted(client):
    def on_event(event):
        if isinstance(event, ev.Executing) and event.node == "3":
            client.interrupt(event.prompt_id)

    with pytest.raises(Interrupted) as caught:
        client.run(slow(60), timeout=120, on_event=on_event)
    assert caught.value.node_id is not None
    entry = {}
    for _ in range(100):  # the server writes history just after sending execution_interrupted
        entry = client.history(caught.value.prompt_id)
        if entry:
            break
        time.sleep(0.05)
    assert "execution_interrupted" in [kind for kind, _ in entry["status"]["messages"]]


def test_delete_from_queue_removes_a_pending_prompt(client):
    running = client.queue(slow(60))
    pending = client.queue(trivial())
    for _ in range(200):  # earlier prompts may still be finishing: wait until ours runs
        if running in client.queue_state()["running"]:
            break
        time.sleep(0.05)
    assert pending in client.queue_state()["pending"]
    client.delete_from_queue([pending])
    assert pending not in client.queue_state()["pending"]
    client.interrupt(running)
    with pytest.raises(Interrupted):
        client.wait(running, timeout=120)


def test_fifty_queued_prompts_all_complete_on_one_websocket(client):
    ids = [client.queue(trivial(output="PreviewImage")) for _ in range(50)]
    results = [client.wait(prompt_id, timeout=120) for prompt_id in ids]
    assert [r.prompt_id for r in results] == ids
    assert all(r.status == "success" and r.files(("temp",)) for r in results)


def test_five_hundred_prompts_one_after_another_none_hangs(client):
    completed = 0
    for _ in range(500):
        result = client.run(trivial(output="PreviewImage"), timeout=30)
        completed += result.status == "success"
    assert completed == 500


def test_prompts_from_several_threads_share_the_client(client):
    results, errors = [], []

    def worker():
        try:
            for _ in range(10):
                results.append(client.run(trivial(output="PreviewImage"), timeout=60).prompt_id)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(set(results)) == 40


def test_async_client_runs_many_prompts_concurrently(comfyui_server):
    async def main():
        async with AsyncComfyClient(comfyui_server.url) as client:
            seen = []
            results = await asyncio.gather(
                *(
                    client.run(trivial(output="PreviewImage"), timeout=60, on_event=seen.append)
                    for _ in range(20)
                )
            )
            stats = await client.system_stats()
            return results, seen, stats

    results, seen, stats = asyncio.run(main())
    assert len({r.prompt_id for r in results}) == 20 and all(r.status == "success" for r in results)
    assert sum(isinstance(e, ev.Success) for e in seen) == 20
    assert "system" in stats


def test_upload_image_returns_name_usable_by_loadimage(client, tmp_path):
    from PIL import Image

    path = tmp_path / "upload_me.png"
    Image.new("RGB", (12, 10), (10, 200, 30)).save(path)
    answer = client.upload_image(path, subfolder="client_tests")
    assert answer["subfolder"] == "client_tests" and answer["name"].endswith(".png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": f"client_tests/{answer['name']}"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "client/up"}},
    }
    result = client.run(prompt, timeout=60)
    saved = client.download_outputs(result, tmp_path / "out")
    assert Image.open(saved[0]).size == (12, 10)


def test_ui_format_workflow_converted_with_live_object_info_runs(client):
    ui = {
        "nodes": [
            {
                "id": 4,
                "type": "EmptyImage",
                "mode": 0,
                "inputs": [],
                "widgets_values": [16, 8, 1, next(_colors)],
            },
            {
                "id": 9,
                "type": "SaveImage",
                "mode": 0,
                "inputs": [{"name": "images", "type": "IMAGE", "link": 1}],
                "widgets_values": ["client/ui"],
            },
        ],
        "links": [[1, 4, 0, 9, 0, "IMAGE"]],
    }
    result = client.run(ui_to_api(ui, client.object_info()), timeout=60)
    assert result.files()[0].filename.startswith("ui_")


def test_bearer_token_and_headers_are_sent(comfyui_server):
    with ComfyClient(comfyui_server.url, token="s3cret", headers={"X-Proxy": "1"}) as client:
        sent = client.session.headers
        assert sent["Authorization"] == "Bearer s3cret" and sent["X-Proxy"] == "1"
        assert client.run(trivial(output="PreviewImage"), timeout=60).status == "success"


def test_object_info_lists_core_nodes(client):
    info = client.object_info()
    assert "EmptyImage" in info and client.object_info("EmptyImage")["EmptyImage"]["name"] == "EmptyImage"
    assert requests.get(f"{client.base}/system_stats", timeout=10).status_code == 200


@pytest.mark.parametrize("metadata_previews", [True, False], ids=["event4", "event1"])
def test_sampler_previews_arrive_as_image_events_of_the_prompt(comfyui_server, tmp_path, metadata_previews):
    from PIL import Image
    from svd_suite_client.bundled import bundled_workflow
    from svd_suite_client.jobs import image_reference
    from svd_suite_client.workflow import apply_assignments, load_workflow

    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    missing = [
        n for n in ("SVDSuite_LoadModel", "SVDSuite_ImageToVideo", "SVDSuite_SaveVideo") if n not in info
    ]
    if missing:
        pytest.skip(f"node(s) not registered on the server yet: {', '.join(missing)}")
    path = tmp_path / "start.png"
    Image.new("RGB", (64, 64), (20, 120, 220)).save(path)
    seen = []
    with ComfyClient(comfyui_server.url, previews=metadata_previews) as client:
        prompt = load_workflow(bundled_workflow("svd_img2vid.json"))
        apply_assignments(
            prompt,
            [
                f"Input Image.image={image_reference(client.upload_image(path))}",
                "Load SVD Model.model=svd-tiny",
                "Image to Video.width=64",
                "Image to Video.height=64",
                "Image to Video.num_frames=2",
                "Image to Video.steps=2",
                f"Image to Video.seed={next(_colors)}",
            ],
        )
        result = client.run(prompt, timeout=300, on_event=seen.append)
    previews = [e for e in seen if isinstance(e, ev.Preview)]
    assert previews, [type(e).__name__ for e in seen]
    assert all(p.prompt_id == result.prompt_id and p.image[:3] == b"\xff\xd8\xff" for p in previews)
    assert all(p.format == "jpeg" for p in previews)
    if metadata_previews:
        assert all(p.node == "3" for p in previews)


def test_lost_completion_event_is_found_by_polling_history(comfyui_server):
    with ComfyClient(comfyui_server.url) as client:
        client.silence_poll_s = 0.5
        deliver = client._deliver
        client._deliver = lambda prompt_id, event: (
            None if isinstance(event, ev.TERMINAL) else deliver(prompt_id, event)
        )
        result = client.run(trivial(), timeout=60)
    assert result.status == "success" and result.files()
    assert isinstance(result.events[-1], ev.Success)  # synthesised from /history


def test_repository_ui_templates_convert_with_live_object_info(client):
    from pathlib import Path

    from svd_suite_client.workflow import is_ui_format, load_workflow, validate

    info = client.object_info()
    templates = [
        p
        for p in sorted((Path(__file__).parents[1] / "workflows").glob("*.json"))
        if is_ui_format(json.loads(p.read_text()))
    ]
    if not templates:
        pytest.skip("no UI-format templates in workflows/ yet")
    for path in templates:
        prompt = load_workflow(path, info)
        problems = [p for p in validate(prompt, info) if " input model: " not in p]  # no big models here
        assert problems == [], (path.name, problems)
