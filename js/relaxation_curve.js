// In-node live curve of the Relaxation CFG schedule s(σ̂), redrawn as β, p, s_min, s_base (and cfg on the
// preview node) change. Drawn on a <canvas> inside a DOM widget, which both the LiteGraph and the Vue node
// renderers mount. The math lives in relaxation_math.js (a port of nodes/pure/relaxation.py).
import { addCanvasWidget, prepareCanvas } from "./canvas_widget.js";
import { relaxationScale } from "./relaxation_math.js";

const { app } = window.comfyAPI.app;
const NODES = new Set(["RelaxationCFG", "RelaxationCFGPreview"]);
const WATCHED = ["beta", "decay_power", "s_min", "s_base", "cfg"];
const ASSUMED_CFG = 6.0;

function widgetValue(node, name, fallback) {
  const w = node.widgets?.find((w) => w.name === name);
  return w === undefined ? fallback : Number(w.value);
}

function draw(node, canvas, info) {
  const [ctx, W, H] = prepareCanvas(canvas, 300, 150);
  ctx.clearRect(0, 0, W, H);
  const p = { beta: widgetValue(node, "beta", 0.75), decay_power: widgetValue(node, "decay_power", 0.7),
              s_min: widgetValue(node, "s_min", 1.0) };
  const sBaseIn = widgetValue(node, "s_base", 0);
  const cfg = widgetValue(node, "cfg", ASSUMED_CFG);
  const sBase = sBaseIn !== 0 ? sBaseIn : cfg;
  const pad = { l: 34, r: 8, t: 8, b: 20 };
  const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
  const n = 100, xs = [], ys = [];
  for (let i = 0; i <= n; i++) {
    const sh = 1 - i / n; // sampling runs from σ̂ = 1 (noise, left) to 0 (clean, right)
    xs.push(sh);
    ys.push(relaxationScale(sh, sBase, p));
  }
  const lo = Math.min(...ys, p.s_min), hi = Math.max(...ys, sBase);
  const span = Math.max(1e-3, hi - lo);
  const y0 = lo - 0.1 * span, y1 = hi + 0.1 * span;
  const X = (sh) => pad.l + (1 - sh) * pw;
  const Y = (s) => pad.t + (1 - (s - y0) / (y1 - y0)) * ph;
  ctx.fillStyle = "#1b1b1f";
  ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = "#555";
  ctx.strokeRect(pad.l, pad.t, pw, ph);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#bbb";
  for (const s of [y0 + 0.1 * span, (lo + hi) / 2, y1 - 0.1 * span]) {
    ctx.fillText(s.toFixed(2), 2, Y(s) + 3);
  }
  ctx.fillText("σ̂ 1 (noise)", pad.l, H - 5);
  ctx.fillText("0 (clean)", W - pad.r - 46, H - 5);
  // s_base reference line
  ctx.setLineDash([3, 3]);
  ctx.strokeStyle = "#777";
  ctx.beginPath();
  ctx.moveTo(pad.l, Y(sBase));
  ctx.lineTo(pad.l + pw, Y(sBase));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = "#5aaaff";
  ctx.lineWidth = 2;
  ctx.beginPath();
  xs.forEach((sh, i) => (i ? ctx.lineTo(X(sh), Y(ys[i])) : ctx.moveTo(X(sh), Y(ys[i]))));
  ctx.stroke();
  info.textContent = `s: ${ys[0].toFixed(2)} at σ̂=1 → ${ys[n].toFixed(2)} at σ̂=0` +
    (sBaseIn === 0 ? ` (s_base = ${node.comfyClass === "RelaxationCFGPreview" ? "cfg" : "sampler cfg, drawn at " + ASSUMED_CFG})` : "");
  canvas.dataset.curve = JSON.stringify(ys.map((v) => +v.toFixed(6)));
}

app.registerExtension({
  name: "ComfyUI-Inertia.RelaxationCurve",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      addCanvasWidget(this, {
        name: "relaxation_curve", className: "inertia-relaxation-curve", minHeight: 140, watch: WATCHED,
        draw: (canvas, info) => draw(this, canvas, info),
      });
      return result;
    };
  },
});
