// Shared in-node canvas for ComfyUI-Inertia's previews: a <canvas> and an info line inside a DOM widget
// (mounted by both the LiteGraph and the Vue node renderers), redrawn on the next animation frame when a
// watched widget changes, the canvas resizes or the node is configured; observers go away with the node.

// addCanvasWidget(node, { name, className, minHeight, watch, onWatch, draw, key }) → redraw()
//   watch:   widget names whose change redraws; onWatch(): called first (e.g. to drop stale results)
//   draw(canvas, info): paints the canvas (CSS pixels; the context is scaled by devicePixelRatio)
//   key():   optional; read on every canvas frame the node is drawn in, and a change redraws (for drawings that
//            depend on other nodes, e.g. the cfg of the sampler a MODEL reaches)
export function addCanvasWidget(node, { name, className, minHeight, watch = [], onWatch, draw, key }) {
  const root = document.createElement("div");
  root.className = className;
  root.style.cssText = "display:flex;flex-direction:column;width:100%;height:100%;";
  const canvas = document.createElement("canvas");
  canvas.style.cssText = `width:100%;flex:1;min-height:${minHeight - 30}px;`;
  const info = document.createElement("div");
  info.style.cssText = "font:10px sans-serif;color:#aaa;padding:2px 4px;word-break:break-all;";
  root.append(canvas, info);
  let pending = false, lastKey;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; lastKey = key?.(); draw(canvas, info); });
  };
  const onDraw = key && (() => { if (key() !== lastKey) redraw(); });
  node.addDOMWidget(name, "inertia_canvas", root,
                    { serialize: false, hideOnZoom: false, getMinHeight: () => minHeight, onDraw });
  for (const w of node.widgets?.filter((w) => watch.includes(w.name)) || []) {
    const cb = w.callback;
    w.callback = function () { const r = cb?.apply(this, arguments); onWatch?.(w.name); redraw(); return r; };
  }
  const ro = new ResizeObserver(redraw);
  ro.observe(canvas);
  const onRemoved = node.onRemoved;
  node.onRemoved = function () { ro.disconnect(); return onRemoved?.apply(this, arguments); };
  const onConfigure = node.onConfigure;
  node.onConfigure = function () { const r = onConfigure?.apply(this, arguments); redraw(); return r; };
  redraw();
  return redraw;
}

// Size the canvas backing store for the device pixel ratio; returns [ctx, cssWidth, cssHeight].
export function prepareCanvas(canvas, fallbackW = 300, fallbackH = 100) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth || fallbackW, H = canvas.clientHeight || fallbackH;
  canvas.width = Math.round(W * dpr);
  canvas.height = Math.round(H * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, W, H];
}
