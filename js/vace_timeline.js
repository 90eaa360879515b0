// VACE latent-mask timeline inside the builder nodes: the pixel frames (grouped as the Wan VAE groups
// them), the latent frames, and a line from the pixel frame each latent frame's mask is read from.
// Live from the `length` widget where the node has one; after a run the latent frames are coloured from
// the backend's result (kept / generated / mixed) and misread frames are marked red. With mask_layout
// "latent-aligned" each latent frame reads its whole VAE group: a bracket under the group replaces the line.
import { addCanvasWidget, prepareCanvas } from "./canvas_widget.js";
import { ALIGNED_LAYOUT, STOCK_LAYOUT, latentLength, latentSources, snapLength, vaeGroup } from "./vace_math.js";

const { app } = window.comfyAPI.app;
const { api } = window.comfyAPI.api;
const NODES = new Set(["InertiaVACEKeyframeBuilder", "InertiaVACEExtensionBuilder", "InertiaVACERepaintBuilder", "InertiaVACEOutpaintBuilder",
                       "InertiaVACELatentMaskPreview"]);
const COLORS = { "0": "#3fa66a", "1": "#4a4f63", m: "#d8a03a", "?": "#2a2c35" };

function draw(node, canvas, info) {
  const state = node.__inertiaTimeline || {};
  const lengthWidget = node.widgets?.find((w) => w.name === "length");
  // the keyframe builder snaps its length to 4n+1 (a preview node takes the length as given)
  const raw = lengthWidget && Number(lengthWidget.value) > 0 ? Number(lengthWidget.value) : 0;
  const L = state.length || (raw && node.comfyClass === "InertiaVACEKeyframeBuilder" ? snapLength(raw) : raw);
  const [ctx, W, H] = prepareCanvas(canvas, 300, 90);
  ctx.fillStyle = "#1b1b1f";
  ctx.fillRect(0, 0, W, H);
  if (!L) {
    info.textContent = "latent timeline appears after a run (length comes from the input video)";
    canvas.dataset.timeline = "";
    return;
  }
  const T = latentLength(L);
  const layoutWidget = node.widgets?.find((w) => w.name === "mask_layout");
  const layout = state.layout || layoutWidget?.value || STOCK_LAYOUT;
  const aligned = layout === ALIGNED_LAYOUT;
  const reads = state.reads || latentSources(L, layout).map(([a, b]) => (aligned ? [a, b] : a));
  const code = state.latent || "?".repeat(T);
  const conflicts = new Set(state.conflicts || []);
  const pad = 6, pw = W - 2 * pad;
  const px = (p) => pad + ((p + 0.5) / L) * pw;
  const lx = (k) => pad + ((k + 0.5) / T) * pw;
  const yPix = 10, yLat = H - 30;
  // pixel frames, shaded by VAE group
  for (let k = 0; k < T; k++) {
    const [a, b] = vaeGroup(k);
    ctx.fillStyle = k % 2 ? "#3a3d4a" : "#30323d";
    const x0 = pad + (a / L) * pw, x1 = pad + ((Math.min(b, L - 1) + 1) / L) * pw;
    ctx.fillRect(x0, yPix, Math.max(1, x1 - x0), 12);
  }
  for (const p of conflicts) {
    ctx.fillStyle = "#e0524a";
    ctx.fillRect(px(p) - 1, yPix, 2, 12);
  }
  // read lines (stock: from p(k)) or group brackets (latent-aligned: frames 4k-3..4k)
  ctx.strokeStyle = "#8a8fa8";
  ctx.lineWidth = 1;
  reads.forEach((r, k) => {
    ctx.beginPath();
    if (aligned) {
      const [a, b] = Array.isArray(r) ? r : vaeGroup(k);
      const xa = px(a) - 0.3 * (pw / L), xb = px(Math.min(b, L - 1)) + 0.3 * (pw / L), yb = yPix + 17;
      ctx.moveTo(xa, yPix + 13);
      ctx.lineTo(xa, yb);
      ctx.lineTo(xb, yb);
      ctx.lineTo(xb, yPix + 13);
      ctx.moveTo((xa + xb) / 2, yb);
    } else {
      ctx.moveTo(px(r), yPix + 12);
    }
    ctx.lineTo(lx(k), yLat);
    ctx.stroke();
  });
  // latent frames
  const bw = Math.max(2, pw / T - 2);
  for (let k = 0; k < T; k++) {
    ctx.fillStyle = COLORS[code[k]] || COLORS["?"];
    ctx.fillRect(lx(k) - bw / 2, yLat, bw, 14);
  }
  ctx.fillStyle = "#bbb";
  ctx.font = "10px sans-serif";
  ctx.fillText(`${L} pixel frames`, pad, yPix - 1);
  ctx.fillText(`${T} latent frames`, pad, H - 4);
  const known = [...code].filter((c) => c === "0").length;
  info.textContent = state.latent
    ? `latent mask ${code}  (green kept ${known}, gray generated, amber mixed${conflicts.size ? ", red: misread frames" : ""})`
    : aligned ? `latent-aligned: each latent frame takes its mask from its whole VAE group (bracket)`
      : `each latent frame reads its mask from the pixel frame its line starts at`;
  canvas.dataset.timeline = JSON.stringify({ L, T, reads, code, layout });
}

app.registerExtension({
  name: "ComfyUI-Inertia.VACETimeline",
  async setup() {
    api.addEventListener("executed", (e) => {
      const data = e.detail?.output?.inertia_timeline?.[0];
      if (!data) return;
      const node = app.graph?.getNodeById(Number(e.detail.display_node ?? e.detail.node));
      if (!node?.__inertiaRedraw) return;
      node.__inertiaTimeline = data;
      node.__inertiaRedraw();
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      this.__inertiaRedraw = addCanvasWidget(this, {
        name: "vace_timeline", className: "inertia-vace-timeline", minHeight: 110, watch: ["length", "mask_layout"],
        onWatch: () => { this.__inertiaTimeline = null; },  // a new length or layout: the last run no longer applies
        draw: (canvas, info) => draw(this, canvas, info),
      });
      return result;
    };
  },
});
