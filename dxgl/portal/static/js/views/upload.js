// Upload: drop several files (or pick them), or ingest a URL. Each file is hashed in the browser and
// checked with the check-hash pre-flight (modelByHash) first: a file already uploaded is not sent.

import { gql, gqlUpload } from "../api.js";
import { M, Q, settingsInput } from "../queries.js";
import { loadContract, settingsForm } from "../settings.js";
import { sha256Hex } from "../sha256.js";
import { button, clear, errorBox, field, FINISHED, h, statusBadge } from "../ui.js";

export const ACCEPT = [".glb", ".gltf", ".zip", ".usdz", ".usda", ".usdc", ".usd", ".stl", ".ply"];

export function parseTags(text) {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export async function overlaysAndCredits() {
  const [contract, data] = await Promise.all([loadContract(), gql(`{ account { paidCredits freeCredits } overlays { id name layer system } }`)]);
  return { contract, overlays: data.overlays, credits: { paid: data.account.paidCredits, free: data.account.freeCredits } };
}

export async function uploadView(main, _params, ctx) {
  const { contract, overlays, credits } = await overlaysAndCredits();
  const form = settingsForm(contract, { overlays, credits });
  const input = h("input", { type: "file", multiple: true, accept: ACCEPT.join(","), class: "visually-hidden", id: "upload-files" });
  const zone = h(
    "div",
    { class: "dropzone", tabindex: "0", role: "button", "aria-describedby": "drop-hint", "data-testid": "dropzone" },
    h("strong", {}, "Drop 3D models here"),
    h("span", { id: "drop-hint" }, ` or press Enter to choose files (${ACCEPT.join(" ")}; several at once)`),
  );
  const tags = h("input", { type: "text", name: "tags", placeholder: "furniture, office", autocomplete: "off" });
  const list = h("ul", { class: "uploads", "aria-live": "polite", "aria-label": "Uploads" });
  const url = h("input", { type: "url", name: "url", placeholder: "https://example.com/model.glb", inputmode: "url" });
  const ingestBtn = h("button", { type: "submit" }, "Ingest URL");
  const ingestErrors = h("div", { class: "errors" });
  const ingestForm = h(
    "form",
    { class: "row", novalidate: true },
    field("Model URL (GLB or glTF)", url),
    ingestBtn,
  );

  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    handle([...e.dataTransfer.files]);
  });
  input.addEventListener("change", () => {
    handle([...input.files]);
    input.value = "";
  });

  function handle(files) {
    for (const file of files) uploadOne(file);
  }

  function watch(row, renderId) {
    const status = h("span", { class: "render-status" }, statusBadge("pending"));
    row.append(h("span", {}, " Render "), h("a", { href: `#/renders/${renderId}` }, renderId), " ", status);
    ctx.watchRender(renderId, (r) => {
      status.replaceChildren(statusBadge(r.status));
      row.dataset.renderStatus = r.status;
      if (FINISHED.has(r.status)) row.dataset.finishedAt = String(Date.now());
    });
  }

  async function uploadOne(file) {
    const progress = h("progress", { max: "100", value: "0", "aria-label": `Upload progress of ${file.name}` });
    const pct = h("span", { class: "pct" }, "hashing…");
    const note = h("div", { class: "note" });
    const row = h("li", { class: "upload", dataset: { name: file.name } }, h("strong", {}, file.name), " ", progress, " ", pct, note);
    list.append(row);
    const setStatus = (s) => {
      row.dataset.state = s;
    };
    setStatus("hashing");
    try {
      const lower = file.name.toLowerCase();
      if (!ACCEPT.some((ext) => lower.endsWith(ext))) {
        throw { code: "invalid_format", message: `${file.name} is not one of ${ACCEPT.join(", ")}` };
      }
      const sha256 = await sha256Hex(file);
      row.dataset.sha256 = sha256;
      const known = (await gql(Q.modelByHash, { sha256 })).modelByHash;
      if (known) {
        setStatus("duplicate");
        progress.remove();
        pct.textContent = "";
        note.replaceChildren(
          "Already uploaded: ",
          h("a", { href: `#/models/${known.id}`, class: "duplicate-link" }, known.title || known.originalName),
          " (not sent again)",
        );
        return;
      }
      setStatus("uploading");
      pct.textContent = "0%";
      const { promise } = gqlUpload(
        M.uploadModel,
        { file: null, renderSettings: settingsInput(form.values()) },
        { "variables.file": file },
        (loaded, total) => {
          const p = Math.round((loaded / total) * 100);
          progress.value = p;
          pct.textContent = `${p}%`;
        },
      );
      const data = await promise;
      progress.value = 100;
      pct.textContent = "100%";
      setStatus("uploaded");
      const result = data.uploadModel;
      const wanted = parseTags(tags.value);
      if (wanted.length) await gql(M.updateModel, { id: result.model.id, tags: wanted });
      row.dataset.modelId = result.model.id;
      note.replaceChildren(
        result.duplicate ? "Already uploaded (a new render was added): " : "Uploaded: ",
        h("a", { href: `#/models/${result.model.id}` }, result.model.title || result.model.originalName),
      );
      watch(note, result.render.id);
    } catch (err) {
      setStatus("error");
      note.replaceChildren(errorBox(err), button("Retry", () => { row.remove(); uploadOne(file); }));
    }
  }

  ingestForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    ingestErrors.replaceChildren();
    ingestBtn.disabled = true;
    try {
      const data = await gql(M.ingestModel, { url: url.value.trim(), renderSettings: settingsInput(form.values()) });
      const result = data.ingestModel;
      const wanted = parseTags(tags.value);
      if (wanted.length) await gql(M.updateModel, { id: result.model.id, tags: wanted });
      const note = h("div", { class: "note" });
      const row = h("li", { class: "upload", dataset: { state: "uploaded", modelId: result.model.id } }, h("strong", {}, url.value), note);
      note.append(result.duplicate ? "Already uploaded (a new render was added): " : "Ingested: ",
        h("a", { href: `#/models/${result.model.id}` }, result.model.title || result.model.originalName));
      list.append(row);
      watch(note, result.render.id);
    } catch (err) {
      ingestErrors.replaceChildren(errorBox(err));
    } finally {
      ingestBtn.disabled = false;
    }
  });

  clear(
    main,
    h("h1", {}, "Upload"),
    h("section", { class: "card" }, zone, input, field("Tags (comma separated, applied to each upload)", tags), list),
    h("section", { class: "card" }, h("h2", {}, "From a URL"), ingestForm, ingestErrors),
    h("section", { class: "card" }, h("p", { class: "muted" }, "The first render of each new upload uses these settings."), form.element),
  );
}
