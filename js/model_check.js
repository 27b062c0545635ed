// SVD Suite front-end extension: Load SVD Model never opens on a model that is not installed.
//
// Templates and shared workflows name the model their author had ("stable-video-diffusion-img2vid-xt").
// Where that folder is missing, pressing Run would fail with "value not in list". So when a graph
// is loaded (or the node is created) the model widget is checked against what the server lists:
// a missing model is swapped for an installed one and the node says so; with none installed the
// node says which folders to put weights in.
import { app } from "../../scripts/app.js";
import { removeWidget, textBadge, widgetOf } from "./dom_widgets.js";

const MODEL_LOADERS = { SVDSuite_LoadModel: "model" };
const NOTE_WIDGET = "svd_suite_model_note";
export const NO_MODEL_HELP =
  "No SVD model is installed. Put a diffusers SVD folder (with model_index.json) in " +
  "ComfyUI/models/diffusers/ or ComfyUI/models/svd/, or svd.safetensors / svd_xt.safetensors " +
  "in ComfyUI/models/checkpoints/, then press R to refresh.";

function choices(widget) {
  const values = widget.options?.values;
  const list = typeof values === "function" ? values() : values;
  return Array.isArray(list) ? list : [];
}

/** The installed model that best stands in for `wanted`: same folder name, else the first. */
function standIn(wanted, installed) {
  const leaf = (name) => String(name).split(/[\\/]/).pop().toLowerCase();
  return installed.find((name) => leaf(name) === leaf(wanted)) ?? installed[0];
}

/** The model combo of a loader node of ours, or undefined for any other node. */
function modelWidget(node) {
  const inputName = MODEL_LOADERS[node?.comfyClass ?? node?.type];
  return inputName ? widgetOf(node, inputName) : undefined;
}

function checkModel(node) {
  const widget = modelWidget(node);
  if (!widget) return;
  const installed = choices(widget);
  if (installed.includes(widget.value)) {
    removeWidget(node, NOTE_WIDGET);
    return;
  }
  if (!installed.length) {
    textBadge(node, NOTE_WIDGET, NO_MODEL_HELP, "#fc8");
    return;
  }
  const wanted = widget.value;
  widget.value = standIn(wanted, installed);
  if (wanted) {
    textBadge(node, NOTE_WIDGET, `${wanted} is not installed here: using ${widget.value}.`, "#fc8");
  }
}

/** A model the user picks by hand needs no note any more. */
function watchModel(node) {
  const widget = modelWidget(node);
  if (!widget || widget.svdSuiteWatched) return;
  widget.svdSuiteWatched = true;
  const callback = widget.callback;
  widget.callback = function () {
    const result = callback?.apply(this, arguments);
    if (choices(widget).includes(widget.value)) removeWidget(node, NOTE_WIDGET);
    return result;
  };
}

app.registerExtension({
  name: "SVDSuite.ModelCheck",

  nodeCreated(node) {
    watchModel(node);
    checkModel(node);
  },

  loadedGraphNode(node) {
    watchModel(node);
    checkModel(node);
  },
});
