"""The front-end extension in the real ComfyUI page, driven by Debian's headless Chromium.

What a user sees is checked where they see it, on both servers and, on ComfyUI 0.33.0 (front
end 1.49.6), in both renderers: the classic canvas and the Vue "Nodes 2.0" renderer. A template
loaded into the real front end turns into the same prompt as its API twin; every node that makes
a video (Save Video, the remote nodes, the auto engine, Long Video through Save Video) ends with
exactly one playable preview of the file the server saved; remote nodes show the provider's job
status; Load SVD Model never opens on a model that is not installed. Screenshots land in
test-artifacts/ (gitignored) for a human look.
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from support.templates import API_DIR, AUTO_NEW_INPUT_DEFAULTS, AUTO_UI_BEFORE_NEW_INPUTS, ui_template

from dev.comfyui import OLDEST, PACK_FOLDER
from dev.pack import REPO_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = REPO_ROOT / "test-artifacts"
EXTENSIONS = ("SVDSuite.Preview", "SVDSuite.ModelCheck")
PAGE_READY_MS = 90_000
RUN_TIMEOUT_MS = 240_000
TINY_WIDGETS = {"model": "svd-tiny", "width": 64, "height": 64, "steps": 2, "decode_chunk_size": 4}
RENDERERS = ("classic", "vue")

# Every element of one node, in either renderer: its DOM widgets and the classic canvas's video
# container, plus everything inside the Vue renderer's element for the node.
NODE_ELEMENTS_JS = """(id, selector) => {
  const node = window.app.graph.getNodeById(id);
  const found = new Set();
  for (const w of node?.widgets ?? []) w.element?.querySelectorAll?.(selector).forEach(e => found.add(e));
  node?.videoContainer?.querySelectorAll?.(selector).forEach(e => found.add(e));
  document.querySelectorAll(`[data-node-id="${id}"]`).forEach(root => root.querySelectorAll(selector).forEach(e => found.add(e)));
  return [node, [...found].filter(e => e.isConnected)];
}"""

# Every video inside one node, as data.
NODE_VIDEOS_JS = f"""(id) => {{
  const [node, videos] = ({NODE_ELEMENTS_JS})(id, 'video');
  return videos.map(v => ({{
    src: decodeURIComponent(v.src), muted: v.muted, loop: v.loop, controls: v.controls,
    ready: v.readyState, width: v.videoWidth, shown: v.getBoundingClientRect().width > 0,
    ours: v.classList.contains('svd-suite-player'),
  }}));
}}"""

# Every preview a user can see in one node: visible <video>/<img> in it, and the images the
# classic canvas draws itself (node.imgs; the Vue renderer draws only what is in its DOM).
NODE_PREVIEWS_JS = f"""(id) => {{
  const [node, elements] = ({NODE_ELEMENTS_JS})(id, 'video, img');
  const shown = elements.filter(e => e.getClientRects().length > 0 && e.src);
  const canvasDrawn = !window.app.extensionManager.setting.get('Comfy.VueNodes.Enabled');
  for (const img of canvasDrawn ? node?.imgs ?? [] : []) if (!shown.includes(img)) shown.push(img);
  return shown.map(e => ({{
    tag: e.tagName.toLowerCase(), src: decodeURIComponent(e.src), ours: e.classList.contains('svd-suite-player'),
    loaded: e.tagName === 'VIDEO' ? e.readyState >= 2 : e.complete && e.naturalWidth > 0,
  }}));
}}"""

# A DOM widget of ours, by name: its text and whether a user can see it.
BADGE_JS = """([id, name]) => {
  const w = window.app.graph.getNodeById(id)?.widgets?.find(w => w.name === name);
  const e = w?.element;
  if (!e) return null;
  const box = e.getBoundingClientRect();
  return {text: e.textContent, visible: e.isConnected && box.width > 20 && box.height > 10};
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


@pytest.fixture(params=RENDERERS)
def renderer(request, comfyui_server):
    """classic canvas, or the Vue "Nodes 2.0" renderer (front end 1.49.6; not offered in 1.32.9)."""
    if request.param == "vue" and comfyui_server.version == OLDEST:
        pytest.skip("ComfyUI 0.3.75's front end (1.32.9) is tested with its default classic canvas")
    return request.param


@contextmanager
def page_in(browser, server, renderer: str, name: str):
    """The ComfyUI page in `renderer` with our extensions registered; its screenshot is kept
    in test-artifacts/<name>.png when the test ends."""
    # The first visit otherwise opens the template dialog over the canvas.
    requests.post(f"{server.url}/api/settings/Comfy.TutorialCompleted", json=True, timeout=10)
    requests.post(f"{server.url}/api/settings/Comfy.VueNodes.Enabled", json=renderer == "vue", timeout=10)
    shutil.copy(REPO_ROOT / "media" / "rocket.jpg", server.input_dir / "rocket.jpg")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    try:
        tab.goto(server.url)
        tab.wait_for_function(
            "(names) => window.app?.graph && names.every(n => window.app.extensions?.some(e => e.name === n))",
            arg=list(EXTENSIONS),
            timeout=PAGE_READY_MS,
        )
        vue = tab.evaluate("() => window.app.extensionManager.setting.get('Comfy.VueNodes.Enabled')")
        assert bool(vue) == (renderer == "vue"), f"renderer setting did not take: {vue}"
        yield tab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        context.close()


@pytest.fixture
def page(browser, comfyui_server, renderer, request):
    """The ComfyUI page in one renderer."""
    with page_in(browser, comfyui_server, renderer, request.node.name) as tab:
        yield tab


@pytest.fixture
def classic_page(browser, comfyui_server, request):
    """The page on the classic canvas, for what does not depend on the renderer."""
    with page_in(browser, comfyui_server, "classic", request.node.name) as tab:
        yield tab


def load_template(page, name: str) -> None:
    """Open the UI template of API twin `name` the way the template browser fetches it."""
    page.evaluate(
        """async ([pack, file]) => {
          const response = await window.comfyAPI.api.api.fetchApi(
            `/workflow_templates/${pack}/${encodeURIComponent(file)}`);
          if (!response.ok) throw new Error(`template ${file}: HTTP ${response.status}`);
          await window.app.loadGraphData(await response.json());
        }""",
        [PACK_FOLDER, ui_template(name).name],
    )
    page.wait_for_timeout(300)  # the Vue renderer mounts the nodes on the next frames


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


def single_playable_video(page, node: int, item: dict) -> dict:
    """Wait for a playable <video> of `item` in the node, then past the extension's grace period
    (a second player would show by then); return the node's one video."""
    page.wait_for_function(
        f"([id, name]) => ({NODE_VIDEOS_JS})(id).some(v => v.src.includes('filename=' + name) && v.ready >= 2)",
        arg=[node, item["filename"]],
        timeout=30_000,
    )
    page.wait_for_timeout(3000)
    videos = page.evaluate(NODE_VIDEOS_JS, node)
    assert len(videos) == 1, videos  # the front end's own player or ours, never both
    video = videos[0]
    assert f"filename={item['filename']}" in video["src"], video
    assert f"subfolder={item['subfolder']}" in video["src"] and "type=output" in video["src"], video
    assert video["shown"] and video["width"] > 0, video
    return video


def prompt_of_graph(page) -> dict:
    return page.evaluate("async () => (await window.app.graphToPrompt()).output")


# --------------------------------------------------------------------------- templates


@pytest.mark.parametrize("name", sorted(p.stem for p in API_DIR.glob("*.json")))
def test_template_loaded_in_the_frontend_queues_its_api_twin(name, classic_page, comfyui_server):
    load_template(classic_page, name)
    prompt = prompt_of_graph(classic_page)
    twin = json.loads((API_DIR / f"{name}.json").read_text())
    info = requests.get(f"{comfyui_server.url}/object_info", timeout=30).json()
    assert sorted(prompt) == sorted(twin)
    for node_id, node in twin.items():
        declared = info[node["class_type"]]["input"]
        names = {n for section in declared.values() for n in section}
        wanted = {k: v for k, v in node["inputs"].items() if k in names and k != "model"}
        got = {k: v for k, v in prompt[node_id]["inputs"].items() if k in wanted}
        assert prompt[node_id]["class_type"] == node["class_type"]
        assert got == wanted, f"node {node_id}"
    assert not classic_page.errors, classic_page.errors


def test_auto_template_saved_before_its_new_inputs_queues_the_old_prompt(classic_page, comfyui_server):
    # Its widget values end before `resize` and `decode_chunk_size`: the front end must keep
    # every old value in place and give the two new widgets their defaults (crop, 8).
    classic_page.evaluate(
        "(data) => window.app.loadGraphData(data)", json.loads(AUTO_UI_BEFORE_NEW_INPUTS.read_text())
    )
    classic_page.wait_for_timeout(300)
    prompt = prompt_of_graph(classic_page)
    twin = json.loads((API_DIR / "auto_engine.json").read_text())
    assert sorted(prompt) == sorted(twin)
    for node_id, node in twin.items():
        wanted = {k: v for k, v in node["inputs"].items() if k != "model"}
        if node["class_type"] == "SVDSuite_AutoImageToVideo":
            wanted.update(AUTO_NEW_INPUT_DEFAULTS)
        got = {k: v for k, v in prompt[node_id]["inputs"].items() if k in wanted}
        assert got == wanted, f"node {node_id}"
    assert not classic_page.errors, classic_page.errors


def test_template_browser_opens_our_template_from_its_card(classic_page):
    page = classic_page
    title = ui_template("svd_xt_img2vid").stem
    page.evaluate("() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    page.get_by_text(PACK_FOLDER, exact=True).first.click(timeout=30_000)
    card = page.get_by_text(title, exact=True).first
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
        arg=title,
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


def test_template_opens_with_a_model_that_is_installed(page):
    """The template names stable-video-diffusion-img2vid-xt, which this server does not have:
    Load SVD Model switches to an installed model and says so, so Run works at once."""
    load_template(page, "svd_xt_img2vid")
    loader = node_id_of(page, "SVDSuite_LoadModel")
    value = page.evaluate(
        "(id) => window.app.graph.getNodeById(id).widgets.find(w => w.name === 'model').value", loader
    )
    assert value == "svd-tiny"
    note = page.evaluate(BADGE_JS, [loader, "svd_suite_model_note"])
    assert note and note["visible"], note
    assert "stable-video-diffusion-img2vid-xt is not installed here: using svd-tiny" in note["text"]
    assert prompt_of_graph(page)[str(loader)]["inputs"]["model"] == "svd-tiny"


def test_load_model_without_any_model_says_where_weights_go(page):
    load_template(page, "svd_img2vid")
    loader = node_id_of(page, "SVDSuite_LoadModel")
    page.evaluate(
        """(id) => {
          const node = window.app.graph.getNodeById(id);
          node.widgets.find(w => w.name === 'model').options.values = [];
          window.app.extensions.find(e => e.name === 'SVDSuite.ModelCheck').loadedGraphNode(node);
        }""",
        loader,
    )
    note = page.evaluate(BADGE_JS, [loader, "svd_suite_model_note"])
    assert note and note["visible"], note
    assert "models/diffusers/" in note["text"] and "models/checkpoints/" in note["text"]


# --------------------------------------------------------------------------- one preview per node


def test_save_video_node_plays_the_saved_file_once(page, comfyui_server):
    load_template(page, "svd_img2vid")
    set_widgets(page, TINY_WIDGETS)
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    history = queue_and_wait(page, comfyui_server, save_node)
    item = history["outputs"][str(save_node)]["images"][0]
    assert (comfyui_server.output_dir / item["subfolder"] / item["filename"]).is_file()
    video = single_playable_video(page, save_node, item)
    assert video["width"] == 64
    assert video["muted"] and video["loop"] and video["controls"]
    assert not video["ours"], "the front end's own player should be the preview"
    assert not page.errors, page.errors


def test_long_video_plays_once_in_save_video(page, comfyui_server):
    load_template(page, "svd_long_video")
    set_widgets(page, dict(TINY_WIDGETS, num_frames=4, segments=2))
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    history = queue_and_wait(page, comfyui_server, save_node)
    single_playable_video(page, save_node, history["outputs"][str(save_node)]["images"][0])


# API twin → its remote node and the widget values that make it run remotely against the fakes.
REMOTE_TEMPLATES = {
    "remote_fal": ("SVDSuite_RemoteFal", {}),
    "remote_replicate": ("SVDSuite_RemoteReplicate", {}),
    "remote_segmind": ("SVDSuite_RemoteSegmind", {}),
    "remote_siliconflow": ("SVDSuite_RemoteSiliconFlow", {}),
    "auto_engine": ("SVDSuite_AutoImageToVideo", {"engines": "replicate"}),
}


@pytest.mark.parametrize("name", list(REMOTE_TEMPLATES))
def test_remote_node_shows_status_then_plays_its_video_once(name, page, comfyui_server, fake_providers):
    node_type, widgets = REMOTE_TEMPLATES[name]
    load_template(page, name)
    # A new seed each time: a prompt served from ComfyUI's cache would send no status.
    set_widgets(page, dict(widgets, seed=int(time.time() * 1000) % 1_000_000))
    node = node_id_of(page, node_type)
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    page.evaluate(
        """() => {
          window.__svdStates = [];
          window.comfyAPI.api.api.addEventListener('svd-suite.job-status', e => window.__svdStates.push(e.detail.state));
        }"""
    )
    history = queue_and_wait(page, comfyui_server, save_node)
    states = page.evaluate("() => window.__svdStates")
    assert states and states[-1] == "done", states
    badge = page.evaluate(BADGE_JS, [node, "svd_suite_status"])
    assert badge and badge["visible"] and "done" in badge["text"], badge
    item = history["outputs"][str(node)]["images"][0]
    assert history["outputs"][str(node)]["animated"] == [True]
    single_playable_video(page, node, item)
    single_playable_video(page, save_node, history["outputs"][str(save_node)]["images"][0])
    assert not page.errors, page.errors


def test_remote_status_line_shows_each_state(page, comfyui_server):
    load_template(page, "remote_fal")
    node = node_id_of(page, "SVDSuite_RemoteFal")
    status = {
        "node": str(node), "provider": "fal", "state": "queued", "queue_position": 3,
        "elapsed_s": 12.5, "message": "waiting for a worker",
    }  # fmt: skip
    dispatch = "(d) => window.comfyAPI.api.api.dispatchCustomEvent('svd-suite.job-status', d)"
    page.evaluate(dispatch, status)
    page.wait_for_timeout(200)
    queued = page.evaluate(BADGE_JS, [node, "svd_suite_status"])
    page.evaluate(
        dispatch,
        dict(status, state="failed", queue_position=None, elapsed_s=30.0, message="provider said no"),
    )
    page.wait_for_timeout(200)
    failed = page.evaluate(BADGE_JS, [node, "svd_suite_status"])
    assert queued and queued["visible"], queued
    assert all(part in queued["text"] for part in ("fal", "queued", "#3", "12.5 s", "waiting for a worker"))
    assert failed and "failed" in failed["text"] and "#3" not in failed["text"]
    assert "provider said no" in failed["text"]


# format -> element expected as the node's single preview. gif: no front end previews it (1.32.9
# and the classic canvas take it for a video and fail), so ours shows it; webp after gif: the
# classic canvas keeps treating the node as a video node, so which one shows depends on the
# renderer; mp4 again: the native player, and ours goes away.
PREVIEW_BY_FORMAT = {
    "gif": "img",
    "webp": "img",
    "png-frames": "img",
    "mp4-h264": "video",
    "webm-vp9": "video",
}


def test_save_video_node_shows_one_preview_whatever_the_format(page, comfyui_server):
    load_template(page, "svd_img2vid")
    set_widgets(page, dict(TINY_WIDGETS, num_frames=4))
    save_node = node_id_of(page, "SVDSuite_SaveVideo")
    for format_name, tag in PREVIEW_BY_FORMAT.items():
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
        assert previews[0]["tag"] == tag, (format_name, previews)
        if tag == "video":
            assert not previews[0]["ours"], (format_name, previews)
    assert not page.errors, page.errors
