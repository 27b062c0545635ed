// SVD Suite front-end extension: in-node video preview and remote job status.
//
// Why an extension at all: ComfyUI's frontend only previews the `images` list of an output node.
// Our remote nodes report their file under `svd_suite_video`, and they run for minutes on a
// provider's queue, so the node shows the provider's state (queue position, elapsed time) while it
// waits. For SVDSuite_SaveVideo the frontend (1.32.9) already plays `images` + `animated` mp4
// output natively; there we only make sure exactly one player exists (ours is a fallback).
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const SAVE_VIDEO = "SVDSuite_SaveVideo";
const REMOTE_NODES = new Set([
  "SVDSuite_RemoteFal",
  "SVDSuite_RemoteReplicate",
  "SVDSuite_RemoteSegmind",
  "SVDSuite_AutoImageToVideo",
]);
const PLAYER_WIDGET = "svd_suite_player";
const STATUS_WIDGET = "svd_suite_status";
const STATUS_EVENT = "svd-suite.job-status";
// The native preview loads asynchronously; give it this long before ours is shown instead.
const NATIVE_GRACE_MS = 2500;
const NATIVE_WATCH_MS = 20000;
const WATCH_INTERVAL_MS = 250;
const STATE_LABELS = {
  submitted: "submitted",
  queued: "queued",
  running: "running",
  downloading: "downloading",
  done: "done",
  failed: "failed",
  cancelled: "cancelled",
};

/** URL of a saved output, with a cache-buster so a re-run with the same name reloads. */
function viewUrl(item) {
  const params = new URLSearchParams({
    filename: item.filename,
    subfolder: item.subfolder ?? "",
    type: item.type ?? "output",
  });
  return api.apiURL(`/view?${params}&svd_t=${Date.now()}`);
}

function isVideoItem(item) {
  const format = item?.format ?? "";
  if (format.startsWith("video/")) return true;
  return /\.(mp4|webm|mov|mkv)$/i.test(item?.filename ?? "");
}

/** Find a node from a websocket node id ("5", or "12:5" inside a subgraph). */
function nodeFromExecutionId(id) {
  let graph = app.graph;
  let node = null;
  for (const part of String(id).split(":")) {
    if (!graph) return null;
    node = graph.getNodeById(Number(part)) ?? graph.getNodeById(part);
    if (!node) return null;
    graph = node.subgraph;
  }
  return node;
}

function redraw(node) {
  (node.graph ?? app.graph)?.setDirtyCanvas(true, true);
}

function widgetOf(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

/**
 * Grow the node's height (never its width, never shrink) so a new widget is not drawn past its
 * bottom edge. Width stays: previews scale to it, and growing it on every run would creep.
 */
function fitNode(node) {
  const wanted = node.computeSize?.([node.size[0], node.size[1]]);
  if (!wanted || wanted[1] <= node.size[1]) return;
  node.setSize?.([node.size[0], wanted[1]]);
}

function removeWidget(node, name) {
  const index = node.widgets?.findIndex((w) => w.name === name) ?? -1;
  if (index < 0) return;
  node.widgets[index].onRemove?.();
  node.widgets.splice(index, 1);
}

/** Muted + autoplay + loop: a preview should start by itself without sound, like a GIF. */
function configureVideo(video) {
  video.muted = true;
  video.defaultMuted = true;
  video.loop = true;
  video.controls = true;
  video.autoplay = true;
  video.playsInline = true;
  video.play?.()?.catch?.(() => {});
}

/** Our own player widget; replaced in place on every run so a node never holds two. */
function showPlayer(node, item) {
  const url = viewUrl(item);
  let aspect = 9 / 16;
  const media = document.createElement(isVideoItem(item) ? "video" : "img");
  media.className = "svd-suite-player";
  media.style.cssText = "width:100%;height:100%;object-fit:contain;display:block;";
  media.dataset.filename = item.filename;
  if (media instanceof HTMLVideoElement) {
    configureVideo(media);
    media.addEventListener("loadeddata", () => {
      aspect = media.videoWidth && media.videoHeight ? media.videoHeight / media.videoWidth : aspect;
      fitNode(node);
      redraw(node);
    });
  }
  media.src = url;

  let widget = widgetOf(node, PLAYER_WIDGET);
  if (widget) {
    widget.element.replaceChildren(media);
  } else {
    const container = document.createElement("div");
    container.className = "svd-suite-player-container";
    container.appendChild(media);
    widget = node.addDOMWidget(PLAYER_WIDGET, "video", container, {
      serialize: false,
      hideOnZoom: false,
    });
    widget.serialize = false;
  }
  widget.computeLayoutSize = () => {
    const width = Math.max((node.size?.[0] ?? 256) - 20, 64);
    return { minHeight: Math.round(width * aspect), minWidth: 64 };
  };
  fitNode(node);
  redraw(node);
  return media;
}

function showsFile(element, filename) {
  return Boolean(element?.src) && decodeURIComponent(element.src).includes(`filename=${filename}`);
}

/** The frontend's own <video> for this node's `images` output, if it has made one. */
function nativeVideo(node, filename) {
  const videos = node.videoContainer?.querySelectorAll?.("video") ?? [];
  return [...videos].find((video) => showsFile(video, filename)) ?? null;
}

/** True when the frontend previews this file as an image itself (animated webp, png frames). */
function nativeImage(node, filename) {
  return (node.imgs ?? []).some((img) => showsFile(img, filename) && img.naturalWidth > 0);
}

/**
 * SaveVideo: keep exactly one preview. Prefer the frontend's own (its <video> for mp4/webm, its
 * <img> for animated webp); show ours only when none has appeared in time (older frontends, or gif,
 * which frontend 1.32.9 tries to play as a video and fails), and drop ours if one turns up later.
 */
function ensureSingleSaveVideoPlayer(node, item) {
  clearInterval(node.svdSuiteWatch);
  const started = Date.now();
  const dropOurs = () => {
    if (!widgetOf(node, PLAYER_WIDGET)) return;
    removeWidget(node, PLAYER_WIDGET);
    redraw(node);
  };
  const check = () => {
    const elapsed = Date.now() - started;
    const native = nativeVideo(node, item.filename);
    if (native) {
      if (node.videoContainer) node.videoContainer.style.display = "";
      if (!native.dataset.svdSuiteConfigured) {
        native.dataset.svdSuiteConfigured = "1";
        configureVideo(native);
      }
      if (native.readyState >= 2 && !native.dataset.svdSuiteFitted) {
        // The frontend sizes its player but does not grow the node, so the video would overflow.
        native.dataset.svdSuiteFitted = "1";
        fitNode(node);
        redraw(node);
      }
      dropOurs();
    } else if (nativeImage(node, item.filename)) {
      dropOurs();
    } else if (elapsed >= NATIVE_GRACE_MS) {
      const ours = widgetOf(node, PLAYER_WIDGET)?.element.querySelector(".svd-suite-player");
      if (ours?.dataset.filename !== item.filename) showPlayer(node, item);
      // A previous run's native video would otherwise play beside ours.
      if (node.videoContainer) node.videoContainer.style.display = "none";
    }
    if (elapsed >= NATIVE_WATCH_MS) clearInterval(node.svdSuiteWatch);
  };
  node.svdSuiteWatch = setInterval(check, WATCH_INTERVAL_MS);
  check();
}

function formatStatus(data) {
  const parts = [];
  if (data.provider) parts.push(String(data.provider));
  parts.push(STATE_LABELS[data.state] ?? String(data.state ?? "?"));
  if (data.queue_position !== null && data.queue_position !== undefined) {
    parts.push(`queue #${data.queue_position}`);
  }
  if (typeof data.elapsed_s === "number") parts.push(`${data.elapsed_s.toFixed(1)} s`);
  let text = parts.join(" · ");
  if (data.message) text += `\n${data.message}`;
  return text;
}

/** A small text badge under the remote node's widgets: provider · state · queue · elapsed. */
function showStatus(node, data) {
  let widget = widgetOf(node, STATUS_WIDGET);
  if (!widget) {
    const element = document.createElement("div");
    element.className = "svd-suite-status";
    element.style.cssText =
      "font:12px/1.35 monospace;white-space:pre-wrap;overflow:hidden;padding:3px 6px;" +
      "border-radius:4px;background:rgba(0,0,0,0.35);color:#ddd;";
    widget = node.addDOMWidget(STATUS_WIDGET, "text", element, {
      serialize: false,
      hideOnZoom: false,
      getMinHeight: () => 46,
      getMaxHeight: () => 64,
    });
    widget.serialize = false;
    fitNode(node);
  }
  const element = widget.element;
  element.textContent = formatStatus(data);
  element.dataset.state = data.state ?? "";
  element.style.color = data.state === "failed" ? "#f88" : data.state === "done" ? "#8f8" : "#ddd";
  node.svdSuiteStatus = data;
  redraw(node);
}

function onJobStatus(event) {
  const data = event.detail ?? {};
  if (data.node === undefined || data.node === null) return;
  const node = nodeFromExecutionId(data.node);
  if (node) showStatus(node, data);
}

app.registerExtension({
  name: "SVDSuite.Preview",

  async setup() {
    api.addEventListener(STATUS_EVENT, onJobStatus);
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    const name = nodeData?.name;
    if (name !== SAVE_VIDEO && !REMOTE_NODES.has(name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const result = onExecuted?.apply(this, arguments);
      if (name === SAVE_VIDEO) {
        const item = output?.images?.[0];
        if (item?.filename) ensureSingleSaveVideoPlayer(this, item);
      } else {
        const item = output?.svd_suite_video?.[0];
        if (item?.filename) showPlayer(this, item);
      }
      return result;
    };
  },
});
