// In-node live curve of the Relaxation CFG schedule s(σ̂), on the Relaxation CFG node and on its preview node.
// Drawn on a <canvas> inside a DOM widget, which both the LiteGraph and the Vue node renderers mount. The math
// lives in relaxation_math.js (a port of nodes/pure/relaxation.py).
//
// Where s_base is 0 the schedule ends at the sampler's own value, which lives on another node:
// * Relaxation CFG: the cfg of the sampler its MODEL reaches (following MODEL links through other patches to a
//   KSampler, KSamplerAdvanced or CFGGuider), or, for embedded guidance, the FluxGuidance value a BasicGuider
//   gets, or the FramePack sampler's distilled guidance. Re-read whenever the canvas draws, so editing that
//   widget moves the curve. If no sampler is reached, the curve is drawn at 6 and says so.
// * Relaxation CFG Preview: β, p, s_min, s_base and the mode come from the Relaxation CFG node its MODEL comes
//   from (what the backend reads off the patched model); s_base 0 uses the preview's own cfg widget, as the
//   backend does, and the info line names the sampler's value if it differs.
import { addCanvasWidget, prepareCanvas } from "./canvas_widget.js";
import { relaxationScale } from "./relaxation_math.js";

const { app } = window.comfyAPI.app;
const RELAXATION = "InertiaRelaxationCFG";
const PREVIEW = "InertiaRelaxationCFGPreview";
const WATCHED = ["beta", "decay_power", "s_min", "s_base", "guidance", "cfg"];
const ASSUMED = 6.0;
// samplers and guiders that take a MODEL, and the widget holding the value s_base 0 stands for
const SAMPLERS = {
  KSampler: { widget: "cfg", kind: "cfg" },
  KSamplerAdvanced: { widget: "cfg", kind: "cfg" },
  CFGGuider: { widget: "cfg", kind: "cfg" },
  FramePackSectionSampler: { widget: "distilled_guidance", kind: "embedded" },
};
const GUIDANCE_FROM_CONDITIONING = { BasicGuider: "conditioning" }; // embedded guidance set by FluxGuidance
const FLUX_GUIDANCE = "FluxGuidance";

function widget(node, name) {
  return node?.widgets?.find((w) => w.name === name);
}

function widgetNumber(node, name, fallback) {
  const w = widget(node, name);
  return w === undefined ? fallback : Number(w.value);
}

function link(graph, id) {
  const links = graph.links;
  return links instanceof Map ? links.get(id) : links?.[id];
}

function outputTargets(node, type) {
  const graph = node.graph ?? app.graph;
  const out = [];
  for (const o of node.outputs || []) {
    if (o.type !== type) continue;
    for (const id of o.links || []) {
      const l = link(graph, id);
      const target = l && graph.getNodeById(l.target_id);
      if (target) out.push({ node: target, slot: l.target_slot });
    }
  }
  return out;
}

function inputSource(node, name) {
  const graph = node.graph ?? app.graph;
  const input = node.inputs?.find((i) => i.name === name);
  const l = input?.link != null ? link(graph, input.link) : null;
  return l ? graph.getNodeById(l.origin_id) : null;
}

function label(node) {
  return `${node.title || node.type} #${node.id}`;
}

// upstream along CONDITIONING to the FluxGuidance that sets the embedded guidance value
function fluxGuidanceAbove(node, depth = 0) {
  if (!node || depth > 12) return null;
  if (node.type === FLUX_GUIDANCE) return node;
  for (const input of node.inputs || []) {
    if (input.type !== "CONDITIONING") continue;
    const found = fluxGuidanceAbove(inputSource(node, input.name), depth + 1);
    if (found) return found;
  }
  return null;
}

// every sampler (or guider) that the MODEL output of `start` reaches, through MODEL → MODEL nodes
function reachedGuidance(start, skip) {
  const hits = [], seen = new Set([start.id]);
  const queue = [start];
  while (queue.length) {
    const node = queue.shift();
    for (const { node: t } of outputTargets(node, "MODEL")) {
      if (seen.has(t.id) || t === skip) continue;
      seen.add(t.id);
      const sampler = SAMPLERS[t.type];
      if (sampler) {
        const w = widget(t, sampler.widget);
        if (w) hits.push({ value: Number(w.value), kind: sampler.kind, from: `${sampler.widget} of ${label(t)}` });
        if (sampler.kind === "embedded" && widget(t, "cfg")) {
          hits.push({ value: widgetNumber(t, "cfg"), kind: "cfg", from: `cfg of ${label(t)}` });
        }
      } else if (GUIDANCE_FROM_CONDITIONING[t.type]) {
        const flux = fluxGuidanceAbove(inputSource(t, GUIDANCE_FROM_CONDITIONING[t.type]));
        if (flux) hits.push({ value: widgetNumber(flux, "guidance"), kind: "embedded", from: `guidance of ${label(flux)}` });
      } else if ((t.outputs || []).some((o) => o.type === "MODEL")) {
        queue.push(t);
      }
    }
  }
  return hits;
}

function pick(hits, mode) {
  const want = mode === "cfg" ? ["cfg"] : mode === "embedded" ? ["embedded"] : ["embedded", "cfg"];
  for (const kind of want) {
    const h = hits.find((x) => x.kind === kind);
    if (h) return h;
  }
  return null;
}

// upstream along MODEL to the Relaxation CFG node whose patch the model carries (the nearest one replaces earlier ones)
function relaxationAbove(node) {
  let cur = inputSource(node, "model");
  for (let i = 0; cur && i < 64; i++) {
    if (cur.type === RELAXATION) return cur;
    const modelInput = cur.inputs?.find((inp) => inp.type === "MODEL");
    cur = modelInput ? inputSource(cur, modelInput.name) : null;
  }
  return null;
}

// what to draw: { params, sBase, note, flat }
export function schedule(node) {
  const isPreview = node.type === PREVIEW || node.comfyClass === PREVIEW;
  const patch = isPreview ? relaxationAbove(node) : node;
  if (!patch) {
    const cfg = widgetNumber(node, "cfg", ASSUMED);
    return { params: { beta: 0, decay_power: 1, s_min: 0 }, sBase: cfg, flat: true,
             note: "no Relaxation CFG on this model: guidance is cfg at every step" };
  }
  const params = { beta: widgetNumber(patch, "beta", 0.75), decay_power: widgetNumber(patch, "decay_power", 0.7),
                   s_min: widgetNumber(patch, "s_min", 1.0) };
  const sBaseIn = widgetNumber(patch, "s_base", 0);
  const mode = widget(patch, "guidance")?.value ?? "auto";
  const reached = pick(reachedGuidance(patch, isPreview ? node : null), mode);
  if (sBaseIn !== 0) return { params, sBase: sBaseIn, note: `s_base ${sBaseIn} (set on the node)` };
  if (isPreview) {
    const cfg = widgetNumber(node, "cfg", ASSUMED);
    const differs = reached && Math.abs(reached.value - cfg) > 1e-9 ? `; the sampler uses ${reached.value} (${reached.from})` : "";
    return { params, sBase: cfg, note: `s_base 0 → this node's cfg ${cfg}${differs}` };
  }
  if (reached) return { params, sBase: reached.value, note: `s_base 0 → ${reached.value}, the ${reached.from}` };
  return { params, sBase: ASSUMED, note: `s_base 0 → no sampler reached, drawn at an assumed ${ASSUMED}` };
}

function key(node) {
  const s = schedule(node);
  return JSON.stringify([s.params, s.sBase, s.note]);
}

function draw(node, canvas, info) {
  const [ctx, W, H] = prepareCanvas(canvas, 300, 150);
  ctx.clearRect(0, 0, W, H);
  const { params: p, sBase, note } = schedule(node);
  const pad = { l: 34, r: 8, t: 8, b: 20 };
  const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
  const n = 100, xs = [], ys = [];
  for (let i = 0; i <= n; i++) {
    const sh = 1 - i / n; // sampling runs from σ̂ = 1 (noise, left) to 0 (clean, right)
    xs.push(sh);
    ys.push(relaxationScale(sh, sBase, p));
  }
  const lo = Math.min(...ys, p.s_min, sBase), hi = Math.max(...ys, sBase);
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
  ctx.setLineDash([3, 3]); // s_base reference line
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
  info.textContent = `s: ${ys[0].toFixed(2)} at σ̂=1 → ${ys[n].toFixed(2)} at σ̂=0; ${note}`;
  canvas.dataset.curve = JSON.stringify(ys.map((v) => +v.toFixed(6)));
  canvas.dataset.base = String(sBase);
  canvas.dataset.note = note;
}

app.registerExtension({
  name: "ComfyUI-Inertia.RelaxationCurve",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== RELAXATION && nodeData.name !== PREVIEW) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      addCanvasWidget(this, {
        name: "relaxation_curve", className: "inertia-relaxation-curve", minHeight: 140, watch: WATCHED,
        draw: (canvas, info) => draw(this, canvas, info), key: () => key(this),
      });
      return result;
    };
  },
});
