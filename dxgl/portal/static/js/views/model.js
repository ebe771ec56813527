// Model page: 3D view (model-viewer, loaded lazily, on the decoded view.glb), title/SKU/tags,
// archive/unarchive/delete, download, warnings, inspection report, renders with live status, a new
// render and a batch of variants.

import { assets, gql } from "../api.js";
import { M, Q, settingsInput } from "../queries.js";
import { costOf, settingsForm } from "../settings.js";
import { button, busy, clear, errorBox, field, FINISHED, formatBytes, formatDate, h, statusBadge, toast } from "../ui.js";
import { overlaysAndCredits, parseTags } from "./upload.js";

const MODEL_VIEWER = "/portal/vendor/model-viewer-4.4.0/model-viewer.min.js";
let viewerLoaded = null;

function loadModelViewer() {
  if (!viewerLoaded) viewerLoaded = import(MODEL_VIEWER);
  return viewerLoaded;
}

export function notFound(main, what, err) {
  clear(
    main,
    h("h1", {}, `${what} not found`),
    h("p", { class: "error", role: "alert", dataset: { code: err.code } }, `${err.message} (${err.code})`),
    h("p", {}, h("a", { href: "#/models" }, "Back to your models")),
  );
}

function viewer(model) {
  const box = h("div", { class: "viewer", "aria-label": "3D view" }, h("p", { class: "muted" }, "Loading the 3D view…"));
  loadModelViewer()
    .then(() => {
      const el = document.createElement("model-viewer");
      el.setAttribute("src", assets.viewGlb(model.id));
      el.setAttribute("alt", `3D view of ${model.title || model.originalName}`);
      el.setAttribute("camera-controls", "");
      el.setAttribute("touch-action", "pan-y");
      el.setAttribute("shadow-intensity", "1");
      el.addEventListener("error", () => box.append(h("p", { class: "error", role: "alert" }, "The 3D view could not load this model.")));
      box.replaceChildren(el);
    })
    .catch((err) => box.replaceChildren(h("p", { class: "error", role: "alert" }, `The 3D viewer did not load: ${err.message}`)));
  return box;
}

function inspectionReport(i) {
  if (!i) return h("p", { class: "muted" }, "No inspection report (stored before reports existed).");
  const rows = [
    ["Triangles", i.triangles.toLocaleString()],
    ["Vertices", i.vertices.toLocaleString()],
    ["Meshes", i.meshes],
    ["Materials", i.materials],
    ["Textures", i.textures.length ? i.textures.map((t) => `${t.width}×${t.height} ${t.format}`).join(", ") : "none"],
    ["Size (m)", i.sizeMeters.map((v) => v.toFixed(3)).join(" × ")],
    ["UVs / normals / vertex colours", [i.hasUVs, i.hasNormals, i.hasVertexColors].map((b) => (b ? "yes" : "no")).join(" / ")],
    ["Extensions used", i.extensionsUsed.join(", ") || "none"],
    ["Extensions required", i.extensionsRequired.join(", ") || "none"],
    ["Animations ignored", i.animationsIgnored],
  ];
  return h(
    "div",
    {},
    h("table", { class: "kv" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, String(v)))))),
    i.warnings.length ? h("ul", { class: "warnings" }, i.warnings.map((w) => h("li", {}, w))) : null,
  );
}

export function describeSettings(s) {
  if (!s) return "";
  if (s.effect === "dataset") return `dataset ${s.datasetQuality} ${s.coverage}`;
  return `${s.quality} ${s.effect} ${s.aspect} ${s.length}s`;
}

export async function modelView(main, [id], ctx) {
  let model;
  try {
    model = (await gql(Q.model, { id })).model;
  } catch (err) {
    if (err.code === "model_not_found" || err.code === "not_found") return notFound(main, "Model", err);
    throw err;
  }
  const { contract, overlays, credits } = await overlaysAndCredits();
  const title = model.title || model.originalName;

  // --- details
  const titleIn = h("input", { type: "text", name: "title", value: model.title || "" });
  const skuIn = h("input", { type: "text", name: "sku", value: model.sku || "" });
  const tagsIn = h("input", { type: "text", name: "tags", value: model.tags.join(", ") });
  const saveBtn = h("button", { type: "submit" }, "Save");
  const editErrors = h("div", { class: "errors" });
  const edit = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "details-h" },
    h("h2", { id: "details-h" }, "Details"),
    field("Title", titleIn),
    field("SKU", skuIn),
    field("Tags (comma separated, up to 20)", tagsIn),
    editErrors,
    saveBtn,
  );
  edit.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(saveBtn, editErrors, async () => {
      const updated = (
        await gql(M.updateModel, { id, title: titleIn.value.trim() || null, sku: skuIn.value.trim() || null, tags: parseTags(tagsIn.value) })
      ).updateModel;
      tagsIn.value = updated.tags.join(", ");
      heading.textContent = updated.title || model.originalName;
      toast("Saved.");
    });
  });

  // --- actions
  const actionErrors = h("div", { class: "errors" });
  const archiveBtn = button(model.archived ? "Unarchive" : "Archive", () =>
    busy(archiveBtn, actionErrors, async () => {
      const m = model.archived ? (await gql(M.unarchiveModel, { id })).unarchiveModel : (await gql(M.archiveModel, { id })).archiveModel;
      model.archived = m.archived;
      archiveBtn.textContent = model.archived ? "Unarchive" : "Archive";
      toast(model.archived ? "Archived." : "Unarchived.");
    }),
  );
  const confirmBox = h("div", { class: "confirm", hidden: true });
  const deleteBtn = button("Delete…", () => {
    confirmBox.hidden = false;
    confirmBox.querySelector("button").focus();
  }, { class: "danger" });
  const reallyDelete = button("Delete model", () =>
    busy(reallyDelete, actionErrors, async () => {
      await gql(M.deleteModel, { id });
      toast("Model deleted; its renders stay reachable.");
      location.hash = "#/models";
    }), { class: "danger" });
  confirmBox.append(h("p", {}, "Delete this model? Its renders stay reachable."), reallyDelete, button("Cancel", () => (confirmBox.hidden = true)));
  const actions = h(
    "div",
    { class: "actions" },
    h("a", { class: "button", href: assets.modelFile(id), download: "" }, "Download GLB"),
    archiveBtn,
    deleteBtn,
    confirmBox,
    actionErrors,
  );

  // --- renders (live)
  const tbody = h("tbody");
  const rendersTable = h(
    "table",
    { class: "renders" },
    h("thead", {}, h("tr", {}, h("th", {}, "Render"), h("th", {}, "Settings"), h("th", {}, "Status"), h("th", {}, "Created"))),
    tbody,
  );
  function addRenderRow(r, first = false) {
    const status = h("td", { class: "render-status" }, statusBadge(r.status));
    const row = h(
      "tr",
      { dataset: { renderId: r.id, status: r.status } },
      h("td", {}, h("a", { href: `#/renders/${r.id}` }, r.id), r.isSystemPreview ? h("span", { class: "badge" }, "system preview") : null),
      h("td", {}, describeSettings(r.renderSettings)),
      status,
      h("td", {}, formatDate(r.createdAt)),
    );
    if (first) tbody.prepend(row);
    else tbody.append(row);
    if (!FINISHED.has(r.status)) {
      ctx.watchRender(r.id, (u) => {
        row.dataset.status = u.status;
        status.replaceChildren(statusBadge(u.status));
        if (u.errorMessage) status.append(h("div", { class: "error small" }, u.errorMessage));
      });
    }
  }
  model.renders.forEach((r) => addRenderRow(r));

  // --- new render
  const form = settingsForm(contract, { overlays, credits });
  const renderErrors = h("div", { class: "errors" });
  const renderBtn = h("button", { type: "submit", class: "primary" }, "Create render");
  const newRender = h("form", { class: "card", novalidate: true, "aria-labelledby": "new-h" }, h("h2", { id: "new-h" }, "New render"), form.element, renderErrors, renderBtn);
  newRender.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(renderBtn, renderErrors, async () => {
      const r = (await gql(M.createRender, { modelId: id, renderSettings: settingsInput(form.values()) })).createRender;
      addRenderRow(r, true);
      toast(`Render ${r.id} queued.`);
    });
  });

  // --- batch of variants: the settings above, once per chosen aspect x effect
  const aspectBoxes = contract.fields.aspect.options.map((a) => h("input", { type: "checkbox", name: "batch-aspect", value: a, id: `batch-aspect-${a.replace(":", "x")}` }));
  const effectBoxes = contract.fields.effect.options
    .filter((e) => e !== "dataset")
    .map((e) => h("input", { type: "checkbox", name: "batch-effect", value: e, id: `batch-effect-${e}` }));
  const batchCost = h("p", { class: "cost", "aria-live": "polite" });
  const batchErrors = h("div", { class: "errors" });
  const batchBtn = h("button", { type: "submit" }, "Create batch");
  function variants() {
    const base = form.values();
    const aspects = aspectBoxes.filter((b) => b.checked).map((b) => b.value);
    const effects = effectBoxes.filter((b) => b.checked).map((b) => b.value);
    const list = [];
    for (const aspect of aspects.length ? aspects : [base.aspect]) {
      for (const effect of effects.length ? effects : [base.effect]) {
        const v = { ...base, aspect };
        if (base.output !== "dataset") {
          if (effect !== base.effect) {
            for (const p of contract.effectParams[base.effect] || []) delete v[p.name];
          }
          v.effect = effect;
        }
        list.push(v);
      }
    }
    return list;
  }
  const updateBatchCost = () => {
    const list = variants();
    const total = list.reduce((sum, v) => sum + costOf(contract, v), 0);
    batchCost.textContent = `${list.length} render${list.length === 1 ? "" : "s"}, ${total} credit${total === 1 ? "" : "s"} in all (all or none are charged).`;
  };
  const batch = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "batch-h" },
    h("h2", { id: "batch-h" }, "Batch of variants"),
    h("p", { class: "muted" }, "The settings of the new-render form, once for each aspect and effect ticked."),
    h("fieldset", {}, h("legend", {}, "Aspects"), aspectBoxes.map((b) => h("span", { class: "check" }, b, h("label", { for: b.id }, b.value)))),
    h("fieldset", {}, h("legend", {}, "Effects"), effectBoxes.map((b) => h("span", { class: "check" }, b, h("label", { for: b.id }, b.value)))),
    batchCost,
    batchErrors,
    batchBtn,
  );
  batch.addEventListener("change", updateBatchCost);
  form.onChange(updateBatchCost);
  updateBatchCost();
  batch.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(batchBtn, batchErrors, async () => {
      const renders = variants().map((v) => ({ modelId: id, renderSettings: settingsInput(v) }));
      const created = (await gql(M.createRenderBatch, { renders })).createRenderBatch;
      created.forEach((r) => addRenderRow(r, true));
      toast(`${created.length} renders queued.`);
    });
  });

  const heading = h("h1", {}, title);
  clear(
    main,
    h("p", {}, h("a", { href: "#/models" }, "← Models")),
    heading,
    h("p", { class: "muted" }, `${model.originalName} · ${formatBytes(model.fileSize)} · uploaded ${formatDate(model.createdAt)}`, model.archived ? " · archived" : ""),
    model.broken ? h("div", { class: "error", role: "alert" }, `This model is broken: ${model.brokenReason || "the preview could not draw it"}. New renders end in error and are refunded.`) : null,
    model.warnings.length ? h("section", { class: "card" }, h("h2", {}, "Warnings"), h("ul", { class: "warnings" }, model.warnings.map((w) => h("li", {}, w)))) : null,
    h("div", { class: "split" }, model.broken ? h("div", { class: "viewer" }, "No 3D view of a broken model.") : viewer(model), h("div", {}, edit, actions)),
    h("section", { class: "card" }, h("h2", {}, "Inspection report"), inspectionReport(model.inspection)),
    h("section", { class: "card" }, h("h2", {}, "Renders"), model.renders.length ? null : h("p", { class: "muted" }, "No renders yet."), h("div", { class: "scroll" }, rendersTable)),
    newRender,
    batch,
  );
}
