"""The front-end extension in the real ComfyUI page, driven by Debian's headless Chromium.

What a user sees is checked where they see it: a template loaded into the real frontend (1.32.9)
turns into the same prompt as its API twin, a queued run leaves exactly one playable <video> in
the Save Video node pointing at the file the server saved, and remote nodes show the provider's
job status. Screenshots land in test-artifacts/ (gitignored) for a human look.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import requests
from support.comfyui import PACK_FOLDER
from support.pack import REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = REPO_ROOT / "test-artifacts"
API_DIR = REPO_ROOT / "workflows" / "api"
EXTENSION = "SVDSuite.Preview"
PAGE_READY_MS = 90_000
RUN_TIMEOUT_MS = 240_000
TINY_WIDGETS = {"model": "svd-tiny", "width": 64, "height": 64, "steps": 2, "decode_chunk_size": 4}

# Every video inside one node (its DOM widgets, the frontend's own video container), as data.
NODE_VIDEOS_JS = """(id) => {
  const node = window.app.graph.getNodeById(id);
  const found = new Set();
  for (const w of node?.widgets ?? []) w.element?.querySelectorAll?.('video').forEach(v => found.add(v));
  node?.videoContainer?.querySelectorAll?.('video').forEach(v => found.add(v));
  return [...found].filter(v => v.isConnected).map(v => ({
    src: decodeURIComponent(v.src), muted: v.muted, loop: v.loop, controls: v.controls,
    ready: v.readyState, width: v.videoWidth, shown: v.getBoundingClientRect().width > 0,
    ours: v.classList.contains('svd-suite-player'),
  }));
}"""

# Every preview a user can see in one node: visible <video>/<img> in its DOM widgets, and the
# images the frontend draws on the canvas itself (node.imgs).
NODE_PREVIEWS_JS = """(id) => {
  const node = window.app.graph.getNodeById(id);
  const found = new Set();
  for (const w of node?.widgets ?? []) w.element?.querySelectorAll?.('video, img').forEach(e => found.add(e));
  node?.videoContainer?.querySelectorAll?.('video').forEach(v => found.add(v));
  const shown = [...found].filter(e => e.isConnected && e.getClientRects().length > 0 && e.src);
  for (const img of node?.imgs ?? []) if (!found.has(img)) shown.push(img);
  return shown.map(e => ({
    tag: e.tagName.toLowerCase(), src: decodeURIComponent(e.src), ours: e.classList.contains('svd-suite-player'),
    loaded: e.tagName === 'VIDEO' ? e.readyState >= 2 : e.complete && e.naturalWidth > 0,
  }));
}"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run scripts/ensure-chromium.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser, comfyui_server, request):
    """The ComfyUI page with our extension registered; a screenshot is kept after each test."""
    # The first visit otherwise opens the template dialog over the canvas.
    requests.post(f"{comfyui_server.url}/api/settings/Comfy.TutorialCompleted", json=True, timeout=10)
    shutil.copy(REPO_ROOT / "media" / "rocket.jpg", comfyui_server.input_dir / "rocket.jpg")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.goto(comfyui_server.url)
    tab.wait_for_function(
        "(name) => window.app?.graph && window.app.extensions?.some(e => e.name === name)",
        arg=EXTENSION,
        timeout=PAGE_READY_MS,
    )
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        context.close()


def load_template(page, name: str) -> None:
    """Open one of our templates the way the template browser fetches it, then load it."""
    page.evaluate(
        """async ([pack, name]) => {
          const response = await window.comfyAPI.api.api.fetchApi(`/workflow_templates/${pack}/${name}.json`);
          if (!response.ok) throw new Error(`template ${name}: HTTP ${response.status}`);
          await window.app.loadGraphData(await response.json());
        }""",
        [PACK_FOLDER, name],
    )


def set_widgets(page, values: dict) -> None:
    """Set every widget with one of these names, on every node (the tiny-model settings)."""
    page.evaluate(
        """(values) => {
          for (const node of window.app.graph._nodes)
            for (const w of node.widgets ?? []) if (w.name in values) w.value = values[w.name];
        }""",
        values,
    )


def node_id_of(page, class_type: str) -> int:
    return page.evaluate("(t) => window.app.graph._nodes.find(n => n.type === t)?.id ?? null", class_type)


def queue_and_wait(page, server, output_node: int) -> dict:
    """Queue from the page (as the Run button does) and wait for the output node; its history."""
    page.evaluate(
        """async () => {
          window.__svdExecuted = [];
          window.comfyAPI.api.api.addEventListener('executed', e => window.__svdExecuted.push(e.detail));
          await window.app.queuePrompt(0);
        }"""
    )
    handle = page.wait_for_function(
        "(id) => window.__svdExecuted.find(d => String(d.node) === String(id))?.prompt_id",
        arg=output_node,
        timeout=RUN_TIMEOUT_MS,
    )
    prompt_id = handle.json_value()
    history = {}
    for _ in range(100):  # history is written just after the last node, so poll briefly
        history = requests.get(f"{server.url}/history/{prompt_id}", timeout=10).json().get(prompt_id)
        if history:
            break
        time.sleep(0.1)
    assert history, f"prompt {prompt_id} never reached /history"
    assert history["status"]["status_str"] == "success", history["status"]
    return history


def wait_for_playable_video(page, node: int, filename: str) -> list[dict]:
    page.wait_for_function(
        f"([id, name]) => ({NODE_VIDEOS_JS})(id).some(v => v.src.includes('filename=' + name) && v.ready >= 2)",
        arg=[node, filename],
        timeout=30_000,
    )
    page.wait_for_timeout(3000)  # past the extension's grace period: a second player would show by now
    return page.evaluate(NODE_VIDEOS_JS, node)


def prompt_of_graph(page) -> dict:
    return page.evaluate("async () => (await window.app.graphToPrompt()).output")


@pytest.mark.parametrize("name", sorted(p.stem for p in API_DIR.glob("*.json")))
def test_template_loaded_in_the_frontend_queues_its_api_twin(name, page, comfyui_server):
    if not (REPO_ROOT / "workflows" / f"{name}.json").exists():
        pytest.skip(f"no UI template for {name}")
    load_template(page, name)
    prompt = prompt_of_graph(page)
    twin = json.loads((API_DIR / f"{name}.json").read_text())
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    assert sorted(prompt) == sorted(twin)
    for node_id, node in twin.items():
        declared = info[node["class_type"]]["input"]
        names = {n for section in declared.values() for n in section}
        wanted = {k: v for k, v in node["inputs"].items() if k in names}
        got = {k: v for k, v in prompt[node_id]["inputs"].items() if k in wanted}
        assert prompt[node_id]["class_type"] == node["class_type"]
        assert got == wanted, f"node {node_id}"
    assert not page.errors, page.errors


def test_save_video_node_plays_the_saved_file_once(page, comfyui_server):
    load_template(page, "svd_img2vid")
    set_widgets(page, TINY_WIDGETS)
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    history = queue_and_wait(page, comfyui_server, save_node)
    item = history["outputs"][str(save_node)]["images"][0]
    assert (comfyui_server.output_dir / item["subfolder"] / item["filename"]).is_file()

    videos = wait_for_playable_video(page, save_node, item["filename"])
    assert len(videos) == 1, videos  # the frontend's own player or ours, never both
    video = videos[0]
    assert f"subfolder={item['subfolder']}" in video["src"] and "type=output" in video["src"]
    assert video["shown"] and video["width"] == 64
    assert video["muted"] and video["loop"] and video["controls"]


def test_remote_node_renders_job_status_events(page, comfyui_server):
    info = requests.get(f"{comfyui_server.url}/object_info/SVDSuite_RemoteFal", timeout=10).json()
    if "SVDSuite_RemoteFal" not in info:
        pytest.skip("SVDSuite_RemoteFal is not registered")
    load_template(page, "remote_fal")
    node = node_id_of(page, "SVDSuite_RemoteFal")
    status = {
        "node": str(node), "provider": "fal", "state": "queued", "queue_position": 3,
        "elapsed_s": 12.5, "message": "waiting for a worker",
    }  # fmt: skip
    text_js = """(id) => window.app.graph.getNodeById(id).widgets
                  .find(w => w.name === 'svd_suite_status')?.element.textContent ?? null"""
    page.evaluate("(d) => window.comfyAPI.api.api.dispatchCustomEvent('svd-suite.job-status', d)", status)
    queued = page.evaluate(text_js, node)
    page.evaluate(
        "(d) => window.comfyAPI.api.api.dispatchCustomEvent('svd-suite.job-status', d)",
        dict(status, state="failed", queue_position=None, elapsed_s=30.0, message="provider said no"),
    )
    failed = page.evaluate(text_js, node)
    assert queued and all(
        part in queued for part in ("fal", "queued", "#3", "12.5 s", "waiting for a worker")
    )
    assert failed and "failed" in failed and "#3" not in failed and "provider said no" in failed


def test_remote_run_shows_status_while_waiting_then_the_video(page, comfyui_server, fake_providers):
    info = requests.get(f"{comfyui_server.url}/object_info/SVDSuite_RemoteReplicate", timeout=10).json()
    if "SVDSuite_RemoteReplicate" not in info:
        pytest.skip("SVDSuite_RemoteReplicate is not registered")
    if not getattr(fake_providers, "env", None):
        pytest.skip("tests/fakes provides no fake provider environment")
    load_template(page, "remote_replicate")
    set_widgets(page, {"seed": 1234})  # a new prompt, never served from the cache
    node = node_id_of(page, "SVDSuite_RemoteReplicate")
    page.evaluate(
        """() => {
          window.__svdStates = [];
          window.comfyAPI.api.api.addEventListener('svd-suite.job-status', e => window.__svdStates.push(e.detail.state));
        }"""
    )
    history = queue_and_wait(page, comfyui_server, node)
    states = page.evaluate("() => window.__svdStates")
    badge = page.evaluate(
        "(id) => window.app.graph.getNodeById(id).widgets.some(w => w.name === 'svd_suite_status' && w.element.isConnected)",
        node,
    )
    assert states and states[-1] == "done", states
    assert badge
    item = history["outputs"][str(node)]["svd_suite_video"][0]
    videos = wait_for_playable_video(page, node, item["filename"])
    assert len(videos) == 1 and videos[0]["ours"] and videos[0]["shown"], videos


def test_template_browser_opens_our_template_from_its_card(page):
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    page.get_by_text(PACK_FOLDER, exact=True).first.click(timeout=30_000)
    card = page.get_by_text("svd_xt_img2vid", exact=True).first
    card.wait_for(timeout=30_000)
    # The card's image is fetched into a blob: our .jpg, not the frontend's default picture.
    thumbnail_loaded = page.wait_for_function(
        """(name) => {
          const label = [...document.querySelectorAll('*')].find(e => e.children.length === 0 && e.textContent === name);
          let card = label;
          while (card && !card.querySelector('img')) card = card.parentElement;
          const img = card?.querySelector('img');
          return img && img.complete && img.naturalWidth > 0 && !img.src.includes('default-template');
        }""",
        arg="svd_xt_img2vid",
        timeout=30_000,
    )
    assert thumbnail_loaded
    card.click()
    page.wait_for_function(
        "() => window.app.graph._nodes.some(n => n.type === 'SVDSuite_SaveVideo')", timeout=30_000
    )
    frames = page.evaluate(
        """() => window.app.graph._nodes.find(n => n.type === 'SVDSuite_ImageToVideo')
                  .widgets.find(w => w.name === 'num_frames').value"""
    )
    assert frames == 25


# format -> (element, whether it is ours; None: either) expected as the node's single preview.
# webp after gif: the frontend keeps treating the node as a video node and fails, so ours shows it.
PREVIEW_BY_FORMAT = {"gif": ("img", True), "webp": ("img", None), "mp4-h264": ("video", False)}


def test_save_video_node_shows_one_preview_whatever_the_format(page, comfyui_server):
    """gif: frontend 1.32.9 cannot play it as the video it takes it for, so ours shows it; webp:
    the frontend's animated image; mp4 again: the native player, and ours goes away."""
    load_template(page, "svd_img2vid")
    set_widgets(page, dict(TINY_WIDGETS, num_frames=4))
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    for format_name, (tag, ours) in PREVIEW_BY_FORMAT.items():
        set_widgets(page, {"format": format_name})
        history = queue_and_wait(page, comfyui_server, save_node)
        filename = history["outputs"][str(save_node)]["images"][0]["filename"]
        page.wait_for_function(
            f"([id, name]) => ({NODE_PREVIEWS_JS})(id).some(p => p.src.includes('filename=' + name) && p.loaded)",
            arg=[save_node, filename],
            timeout=30_000,
        )
        page.wait_for_timeout(3000)  # past the extension's grace period
        previews = page.evaluate(NODE_PREVIEWS_JS, save_node)
        assert len(previews) == 1, (format_name, previews)
        assert f"filename={filename}" in previews[0]["src"], (format_name, previews)
        assert previews[0]["tag"] == tag and ours in (None, previews[0]["ours"]), (format_name, previews)
