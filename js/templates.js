// This pack's workflows in the Templates browser with human titles, one-line descriptions and a deliberate order.
// The frontend (1.27.10, as pinned by ComfyUI 0.3.64, and later) lists a custom-node template by its file name
// only: the name is the title, the name again (with - and _ as spaces) the description, <name>.jpg the thumbnail,
// in the server's directory order. workflows/meta/index.json, written by workflows/build.py in the shape of
// ComfyUI's own templates/index.json, carries titles, descriptions and order; this extension hands it to the
// browser as a category of templates and drops the file-name listing of the same folder. If the index cannot be
// read, nothing changes and the browser shows file names as before.
const { app } = window.comfyAPI.app;
const { api } = window.comfyAPI.api;

// this file is served at /extensions/<custom node folder>/templates.js; templates are served under that folder name
const MODULE = decodeURIComponent(new URL(import.meta.url).pathname.split("/")[2] || "");
let indexPromise = null;

function loadIndex() {
  indexPromise ??= fetch(api.apiURL(`/workflow_templates/${encodeURIComponent(MODULE)}/meta/index.json`))
    .then((r) => (r.ok ? r.json() : []))
    .then((cats) => (Array.isArray(cats) ? cats : []).map((c) => ({ ...c, moduleName: MODULE, title: c.title || MODULE })))
    .catch(() => []);
  return indexPromise;
}

app.registerExtension({
  name: "ComfyUI-Inertia.Templates",
  async setup() {
    if (!MODULE || typeof api.getCoreWorkflowTemplates !== "function" || typeof api.getWorkflowTemplates !== "function") return;
    const coreTemplates = api.getCoreWorkflowTemplates;
    const customTemplates = api.getWorkflowTemplates;
    api.getCoreWorkflowTemplates = async function (...args) {
      const core = await coreTemplates.apply(this, args);
      const ours = await loadIndex();
      return ours.length && Array.isArray(core) ? [...core, ...ours] : core;
    };
    api.getWorkflowTemplates = async function (...args) {
      const custom = await customTemplates.apply(this, args);
      const ours = await loadIndex();
      if (!ours.length || !custom || !(MODULE in custom)) return custom;
      const rest = { ...custom };
      delete rest[MODULE];
      return rest;
    };
  },
});
