// DOM widget helpers shared by SVD Suite's front-end extensions (no extension of its own).
//
// Both renderers are served by the same calls: the classic canvas draws a DOM widget's element
// over the node, and the Vue "Nodes 2.0" renderer mounts the element inside the node, as long
// as the widget's type is one it has no component for.
import { app } from "../../scripts/app.js";

// A widget type no front end knows, so Nodes 2.0 shows our element (it would turn a "text"
// widget into an empty text box).
const BADGE_TYPE = "svd_suite_badge";

export function redraw(node) {
  (node.graph ?? app.graph)?.setDirtyCanvas(true, true);
}

export function widgetOf(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

/**
 * Grow the node's height (never its width, never shrink) so a new widget is not drawn past its
 * bottom edge on the classic canvas. Width stays: previews scale to it, and growing it on every
 * run would creep. (Vue nodes size themselves to their content.)
 */
export function fitNode(node) {
  const wanted = node.computeSize?.([node.size[0], node.size[1]]);
  if (!wanted || wanted[1] <= node.size[1]) return;
  node.setSize?.([node.size[0], wanted[1]]);
}

export function removeWidget(node, name) {
  const index = node.widgets?.findIndex((w) => w.name === name) ?? -1;
  if (index < 0) return;
  node.widgets[index].onRemove?.();
  node.widgets.splice(index, 1);
}

/**
 * A small text line under the node's widgets (created once, then updated in place), for what
 * only this pack knows: a remote job's state, a missing model. Returns its element.
 */
export function textBadge(node, name, text, colour = "#ddd") {
  let widget = widgetOf(node, name);
  if (!widget) {
    const element = document.createElement("div");
    element.className = `svd-suite-badge ${name.replaceAll("_", "-")}`;
    element.style.cssText =
      "font:12px/1.35 monospace;white-space:pre-wrap;overflow:hidden;padding:3px 6px;" +
      "border-radius:4px;background:rgba(0,0,0,0.35);min-height:38px;box-sizing:border-box;";
    widget = node.addDOMWidget(name, BADGE_TYPE, element, {
      serialize: false,
      hideOnZoom: false,
      getMinHeight: () => 46,
      getMaxHeight: () => 96,
    });
    widget.serialize = false;
    fitNode(node);
  }
  widget.element.textContent = text;
  widget.element.style.color = colour;
  redraw(node);
  return widget.element;
}
