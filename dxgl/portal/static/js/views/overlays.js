// Overlays: upload (PNG, JPEG, WebP), list own + system, preview, delete.

import { gql, gqlUpload } from "../api.js";
import { M, Q } from "../queries.js";
import { loadContract } from "../settings.js";
import { encodeEnum } from "../vocab.js";
import { button, busy, clear, errorBox, field, formatDate, h, toast } from "../ui.js";

export async function overlaysView(main) {
  const contract = await loadContract();
  const list = h("div", {});
  const file = h("input", { type: "file", name: "file", accept: "image/png,image/jpeg,image/webp", required: true });
  const layer = h("select", { name: "layer" }, ["background", "foreground"].map((l) => h("option", { value: l }, l)));
  const alignment = h("select", { name: "alignment" }, contract.fields.bgAlign.options.map((a) => h("option", { value: a }, a)));
  const name = h("input", { type: "text", name: "name", maxlength: "100" });
  const description = h("input", { type: "text", name: "description", maxlength: "500" });
  const local = h("img", { alt: "Preview of the chosen image", class: "overlay-preview", hidden: true });
  file.addEventListener("change", () => {
    if (local.src) URL.revokeObjectURL(local.src);
    const chosen = file.files[0];
    local.hidden = !chosen;
    if (chosen) local.src = URL.createObjectURL(chosen);
  });
  const progress = h("progress", { max: "100", value: "0", hidden: true, "aria-label": "Upload progress" });
  const errors = h("div", { class: "errors" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload overlay");
  const form = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "ov-h" },
    h("h2", { id: "ov-h" }, "Upload an overlay"),
    field("Image (PNG, JPEG or WebP, at most 10 MB)", file),
    local,
    h("div", { class: "grid2" }, field("Layer", layer), field("Alignment", alignment), field("Name", name), field("Description", description)),
    progress,
    errors,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(submit, errors, async () => {
      if (!file.files[0]) throw { code: "no_file", message: "Choose an image first" };
      progress.hidden = false;
      const { promise } = gqlUpload(
        M.uploadOverlay,
        {
          file: null,
          layer: encodeEnum("OverlayLayer", layer.value),
          name: name.value || null,
          description: description.value || null,
          alignment: encodeEnum("Alignment", alignment.value),
        },
        { "variables.file": file.files[0] },
        (l, t) => (progress.value = Math.round((l / t) * 100)),
      );
      await promise;
      progress.hidden = true;
      form.reset();
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

// Each overlay's image comes from GET /v1/overlays/:id/image (the session cookie authenticates
// it); the file chosen for upload is previewed locally (a blob: URL) before it is sent.
function preview(o) {
  return h("img", {
    class: "overlay-preview",
    src: `/v1/overlays/${encodeURIComponent(o.id)}/image`,
    alt: `${o.name || "Overlay"} (${o.width}×${o.height})`,
    loading: "lazy",
  });
}

function card(o, reload) {
  const errs = h("div", { class: "errors" });
  const del = o.system
    ? h("span", { class: "badge" }, "system")
    : button("Delete", () => busy(del, errs, async () => {
        await gql(M.deleteOverlay, { id: o.id });
        await reload();
      }), { class: "danger" });
  return h(
    "li",
    { class: "card", dataset: { overlayId: o.id } },
    preview(o),
    h("strong", {}, o.name || o.id),
    h("div", { class: "muted" }, `${o.layer} · ${o.alignment} · ${o.width}×${o.height} · ${formatDate(o.createdAt)}`),
    o.description ? h("p", {}, o.description) : null,
    del,
    errs,
  );
}
