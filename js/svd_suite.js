// SVD Suite front-end extension: one video preview per node, and the remote job status line.
//
// Every node of ours that makes a video (Save Video, the remote nodes, the auto engine) reports
// its file the way ComfyUI core does: ui `images` + `animated`. The front end draws that preview
// itself wherever it can — classic canvas and the Vue "Nodes 2.0" renderer — so the native player
// is the preview. What this file adds:
// - a fallback player, shown only when the front end drew nothing for the file in time (gif on the
//   classic canvas, which it takes for a video and fails to play; older front ends), and removed
//   again the moment a native preview turns up: a node never shows two;
// - the remote job status line (provider · state · queue position · elapsed), which no front end
//   knows about: remote jobs wait minutes on a provider's queue.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { fitNode, redraw, removeWidget, textBadge, widgetOf } from "./dom_widgets.js";

const VIDEO_NODES = new Set([
  "SVDSuite_SaveVideo",
  "SVDSuite_RemoteFal",
  "SVDSuite_RemoteReplicate",
  "SVDSuite_RemoteSegmind",
  "SVDSuite_RemoteSiliconFlow",
  "SVDSuite_AutoImageToVideo",
]);
const PLAYER_WIDGET = "svd_suite_player";
const STATUS_WIDGET = "svd_suite_status";
// The Vue renderer picks a component by widget type before it looks for a DOM element, so the
// type must be a name no front-end widget uses ("video" or "text" would not show our element).
const PLAYER_TYPE = "svd_suite_player";
const STATUS_EVENT = "svd-suite.job-status";
// The native preview loads asynchronously; give it this long before ours is shown instead.
const NATIVE_GRACE_MS = 2500;
// How long a late native preview still replaces ours. A busy machine can take well over 20 s to
// load a native video (seen: VP9 in the Vue renderer under load), and ours must then give way, so
// the watch is long; a check is one DOM query every WATCH_INTERVAL_MS.
const NATIVE_WATCH_MS = 180000;
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

/** Our fallback player widget; replaced in place on every run so a node never holds two. */
function showPlayer(node, item) {
  const url = viewUrl(item);
  let aspect = 9 / 16;
  const media = document.createElement(isVideoItem(item) ? "video" : "img");
  media.className = "svd-suite-player";
  media.style.cssText = "width:100%;height:100%;object-fit:contain;display:block;";
  media.dataset.filename = item.filename;
  const onSize = (width, height) => {
    aspect = width && height ? height / width : aspect;
    fitNode(node);
    redraw(node);
  };
  if (media instanceof HTMLVideoElement) {
    configureVideo(media);
    media.addEventListener("loadeddata", () => onSize(media.videoWidth, media.videoHeight));
  } else {
    media.addEventListener("load", () => onSize(media.naturalWidth, media.naturalHeight));
  }
  media.src = url;

  let widget = widgetOf(node, PLAYER_WIDGET);
  if (widget) {
    widget.element.replaceChildren(media);
  } else {
    const container = document.createElement("div");
    container.className = "svd-suite-player-container";
    container.style.cssText = "width:100%;height:100%;min-height:64px;";
    container.appendChild(media);
    widget = node.addDOMWidget(PLAYER_WIDGET, PLAYER_TYPE, container, {
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

function showsFile(element, item) {
  if (!element?.src) return false;
  try {
    const params = new URL(element.src, location.href).searchParams;
    return params.get("filename") === item.filename && (params.get("subfolder") ?? "") === (item.subfolder ?? "");
  } catch {
    return false;
  }
}

function isOurs(element) {
  return element.classList.contains("svd-suite-player");
}

function loaded(element) {
  if (element instanceof HTMLVideoElement) return element.readyState >= 2;
  return element.complete && element.naturalWidth > 0;
}

/**
 * The front end's own preview of this file in this node, if it has drawn one:
 * classic canvas: its <video> in node.videoContainer, or its image in node.imgs;
 * Vue renderer: a <video>/<img> inside the node's element ([data-node-id]).
 */
function nativePreview(node, item) {
  const candidates = [
    ...(node.videoContainer?.querySelectorAll?.("video") ?? []),
    ...(node.imgs ?? []),
  ];
  const id = CSS.escape(String(node.id));
  for (const root of document.querySelectorAll(`[data-node-id="${id}"]`)) {
    candidates.push(...root.querySelectorAll("video, img"));
  }
  return candidates.find((e) => !isOurs(e) && showsFile(e, item) && loaded(e)) ?? null;
}

/**
 * Keep exactly one preview of `item` in the node. Prefer the front end's own; show ours only
 * when none has loaded in time, and drop ours as soon as a native one loads.
 */
function ensureSinglePreview(node, item) {
  clearInterval(node.svdSuiteWatch);
  const started = Date.now();
  const dropOurs = () => {
    const widget = widgetOf(node, PLAYER_WIDGET);
    if (widget) {
      removeWidget(node, PLAYER_WIDGET);
      widget.element?.remove();
      redraw(node);
    }
    // The Vue renderer can keep a removed widget's element mounted until it next re-renders.
    const id = CSS.escape(String(node.id));
    for (const root of document.querySelectorAll(`[data-node-id="${id}"]`)) {
      for (const player of root.querySelectorAll(".svd-suite-player")) player.remove();
    }
  };
  const check = () => {
    const elapsed = Date.now() - started;
    const native = nativePreview(node, item);
    if (native) {
      if (node.videoContainer) node.videoContainer.style.display = "";
      if (native instanceof HTMLVideoElement && !native.dataset.svdSuiteConfigured) {
        native.dataset.svdSuiteConfigured = "1";
        configureVideo(native);
        // The classic canvas sizes its player but does not grow the node, so it would overflow.
        fitNode(node);
        redraw(node);
      }
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
  const colour = data.state === "failed" ? "#f88" : data.state === "done" ? "#8f8" : "#ddd";
  const element = textBadge(node, STATUS_WIDGET, formatStatus(data), colour);
  element.dataset.state = data.state ?? "";
  node.svdSuiteStatus = data;
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
    if (!VIDEO_NODES.has(nodeData?.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const result = onExecuted?.apply(this, arguments);
      const item = output?.images?.[0];
      if (item?.filename) ensureSinglePreview(this, item);
      return result;
    };
  },
});
