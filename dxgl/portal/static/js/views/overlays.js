// Overlays: upload (PNG, JPEG, WebP pictures; Radiance .hdr / OpenEXR .exr environments), list own +
// system, preview, delete.

import { gql, gqlUpload } from "../api.js";
import { M, Q } from "../queries.js";
import { loadContract } from "../settings.js";
import { encodeEnum } from "../vocab.js";
import { button, busy, clear, errorBox, field, formatBytes, formatDate, h, toast } from "../ui.js";

const ENVIRONMENT = "environment";
// What the file picker offers per layer (the service recognises the format by content, not name).
const ACCEPT = {
  background: "image/png,image/jpeg,image/webp",
  foreground: "image/png,image/jpeg,image/webp",
  [ENVIRONMENT]: ".hdr,.exr,image/vnd.radiance,image/x-exr",
};
const FORMATS = { "image/vnd.radiance": "Radiance .hdr", "image/x-exr": "OpenEXR .exr" };

// The file hint of a layer, with the limits the contract document states for it.
function fileHint(contract, layer) {
  const limits = contract.overlayLayers[layer];
  const mb = `${Math.round(limits.maxBytes / (1024 * 1024))} MB`;
  if (layer === ENVIRONMENT) {
    return `Radiance .hdr or OpenEXR .exr, equirectangular (twice as wide as high), at most ${limits.maxWidth}×${limits.maxHeight} and ${mb}`;
  }
  return `PNG, JPEG or WebP, at most ${mb}`;
}

export async function overlaysView(main) {
  const contract = await loadContract();
  const list = h("div", {});
  const layers = Object.keys(contract.overlayLayers);
  const layer = h("select", { name: "layer" }, layers.map((l) => h("option", { value: l }, l)));
  const file = h("input", { type: "file", name: "file", accept: ACCEPT[layer.value], required: true });
  const fileField = field("Image file", file, fileHint(contract, layer.value));
  const alignment = h("select", { name: "alignment" }, contract.fields.bgAlign.options.map((a) => h("option", { value: a }, a)));
  const name = h("input", { type: "text", name: "name", maxlength: "100" });
  const description = h("input", { type: "text", name: "description", maxlength: "500" });
  // The chosen file before it is sent: a picture is previewed (a blob: URL); an HDR image cannot
  // be shown by an <img>, so it is described instead.
  const local = h("img", { alt: "Preview of the chosen image", class: "overlay-preview", hidden: true });
  const localInfo = h("p", { class: "muted", hidden: true, "aria-live": "polite" });
  function showChosen() {
    if (local.src) URL.revokeObjectURL(local.src);
    local.removeAttribute("src");
    const chosen = file.files[0];
    const env = layer.value === ENVIRONMENT;
    local.hidden = !chosen || env;
    localInfo.hidden = !chosen || !env;
    if (!chosen) return;
    if (env) localInfo.textContent = `${chosen.name}, ${formatBytes(chosen.size)}: checked whole by the server on upload.`;
    else local.src = URL.createObjectURL(chosen);
  }
  function layerChanged() {
    file.accept = ACCEPT[layer.value] || "";
    fileField.querySelector(".hint").textContent = fileHint(contract, layer.value);
    // An environment is not placed in the frame: the service accepts an alignment and ignores it.
    alignment.disabled = layer.value === ENVIRONMENT;
    showChosen();
  }
  file.addEventListener("change", showChosen);
  layer.addEventListener("change", layerChanged);
  const progress = h("progress", { max: "100", value: "0", hidden: true, "aria-label": "Upload progress" });
  const errors = h("div", { class: "errors" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload overlay");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "ov-h" },
    h("h2", { id: "ov-h" }, "Upload an overlay"),
    field("Layer", layer, "Background and foreground images are composited into the frame; an environment lights the model"),
    fileField,
    local,
    localInfo,
    h("div", { class: "grid2" }, field("Alignment", alignment), field("Name", name), field("Description", description)),
    progress,
    errors,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, errors, async () => {
      const chosen = file.files[0];
      if (!chosen) throw { code: "no_file", message: "Choose an image first" };
      // The service cuts an upload off at its layer's limit; saying so first spares sending up to 100 MB in vain.
      const limit = contract.overlayLayers[layer.value].maxBytes;
      if (chosen.size > limit) {
        throw { code: "file_too_large", message: `${chosen.name} is ${formatBytes(chosen.size)}: a ${layer.value} overlay may be at most ${formatBytes(limit)}` };
      }
      progress.hidden = false;
      const { promise } = gqlUpload(
        M.uploadOverlay,
        {
          file: null,
          layer: encodeEnum("OverlayLayer", layer.value),
          name: name.value || null,
          description: description.value || null,
          alignment: alignment.disabled ? null : encodeEnum("Alignment", alignment.value),
        },
        { "variables.file": file.files[0] },
        (l, t) => (progress.value = Math.round((l / t) * 100)),
      );
      await promise;
      progress.hidden = true;
      form.reset();
      layerChanged();
      toast("Overlay uploaded.");
      await load();
    });
  });

  async function load() {
    try {
      const overlays = (await gql(Q.overlays)).overlays;
      list.replaceChildren(
        overlays.length
          ? h("ul", { class: "grid" }, overlays.map((o) => card(o, load)))
          : h("p", { class: "empty" }, "No overlays yet."),
      );
    } catch (err) {
      list.replaceChildren(errorBox(err));
    }
  }
  clear(main, h("h1", {}, "Overlays"), form, h("h2", {}, "Your overlays and the system overlays"), list);
  await load();
}

// A picture overlay's image comes from GET /v1/overlays/:id/image (the session cookie authenticates
// it); the file chosen for upload is previewed locally (a blob: URL) before it is sent. An
// environment is an HDR file no <img> can decode: it gets a labelled tile instead, and its format
// and byte size are read from a HEAD of the same URL (the Overlay type has neither).
function preview(o) {
  const url = `/v1/overlays/${encodeURIComponent(o.id)}/image`;
  if (o.layer === ENVIRONMENT) {
    const text = `HDR environment ${o.width}×${o.height}`;
    return h(
      "div",
      { class: "env-tile", role: "img", "aria-label": `${o.name || "Environment"}: ${text}`, dataset: { testid: "env-tile" } },
      h("span", { class: "env-icon", "aria-hidden": "true" }),
      h("span", { "aria-hidden": "true" }, text),
    );
  }
  return h("img", {
    class: "overlay-preview",
    src: url,
    alt: `${o.name || "Overlay"} (${o.width}×${o.height})`,
    loading: "lazy",
  });
}

async function describeFile(o, into) {
  try {
    const r = await fetch(`/v1/overlays/${encodeURIComponent(o.id)}/image`, { method: "HEAD", credentials: "same-origin" });
    if (!r.ok) return;
    const type = (r.headers.get("content-type") || "").split(";")[0].trim();
    const size = r.headers.get("content-length");
    const parts = [FORMATS[type] || type, size ? formatBytes(Number(size)) : null].filter(Boolean);
    into.textContent = parts.join(" · ");
  } catch {
    // Only a description: the card is complete without it.
  }
}

function card(o, reload) {
  const errs = h("div", { class: "errors" });
  const del = o.system
    ? h("span", { class: "badge" }, "system")
    : button("Delete", () => busy(del, errs, async () => {
        await gql(M.deleteOverlay, { id: o.id });
        await reload();
      }), { class: "danger" });
  const env = o.layer === ENVIRONMENT;
  // An environment's alignment means nothing (it is not placed in the frame): not shown.
  const meta = env ? [o.layer, `${o.width}×${o.height}`] : [o.layer, o.alignment, `${o.width}×${o.height}`];
  const fileInfo = env ? h("div", { class: "muted", dataset: { testid: "env-file" } }) : null;
  if (fileInfo) describeFile(o, fileInfo);
  return h(
    "li",
    { class: "card", dataset: { overlayId: o.id, layer: o.layer } },
    preview(o),
    h("strong", {}, o.name || o.id),
    h("div", { class: "muted" }, `${meta.join(" · ")} · ${formatDate(o.createdAt)}`),
    fileInfo,
    o.description ? h("p", {}, o.description) : null,
    del,
    errs,
  );
}
