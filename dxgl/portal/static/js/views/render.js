// Render page: the video (web variant when there is one, the poster as its poster), thumbnail,
// poster, downloads, error + dismiss, delete; the status is live.

import { assets, gql } from "../api.js";
import { M, Q } from "../queries.js";
import { button, busy, clear, formatBytes, formatDate, h, statusBadge, toast } from "../ui.js";
import { describeSettings, notFound } from "./model.js";

export async function renderView(main, [id], ctx) {
  let render;
  try {
    render = (await gql(Q.render, { id })).render;
  } catch (err) {
    if (err.code === "render_not_found" || err.code === "not_found") return notFound(main, "Render", err);
    throw err;
  }
  const dataset = render.renderSettings && render.renderSettings.effect === "dataset";
  const status = h("span", { class: "render-status", "data-testid": "render-status" }, statusBadge(render.status));
  const media = h("div", { class: "media" });
  const downloads = h("div", { class: "actions" });
  const errorArea = h("div", {});
  const errors = h("div", { class: "errors" });

  function paint(r) {
    status.replaceChildren(statusBadge(r.status));
    status.dataset.status = r.status;
    media.replaceChildren();
    downloads.replaceChildren();
    errorArea.replaceChildren();
    const posterReady = ["poster-done", "video-processing", "done"].includes(r.status);
    if (r.status === "done" && !dataset) {
      const playable = r.hasWebVariant || (render.renderSettings && render.renderSettings.quality !== "pro");
      if (playable) {
        const video = h("video", {
          controls: true,
          playsinline: true,
          preload: "metadata",
          poster: assets.poster(id),
          src: r.hasWebVariant ? assets.web(id) : assets.video(id),
          "aria-label": "Rendered video",
        });
        media.append(video);
      }
      media.append(
        h("figure", {}, h("video", { src: assets.thumb(id), muted: true, loop: true, playsinline: true, autoplay: true, class: "thumb", "aria-label": "Thumbnail video" }), h("figcaption", {}, "Thumbnail")),
      );
    }
    if (posterReady) {
      media.append(h("figure", {}, h("img", { src: assets.poster(id), alt: "Poster", class: "poster" }), h("figcaption", {}, h("a", { href: assets.poster(id, true), target: "_blank", rel: "noopener" }, "Full-size poster"))));
    }
    if (r.status === "done") {
      if (!dataset) downloads.append(h("a", { class: "button", href: assets.video(id), download: "" }, "Download video"));
      downloads.append(h("a", { class: "button primary", href: assets.bundle(id), download: "", "data-testid": "bundle" }, dataset ? "Download dataset (ZIP)" : "Download bundle (ZIP)"));
    }
    if (r.status === "error") {
      const dismiss = button("Dismiss", () =>
        busy(dismiss, errors, async () => {
          const d = (await gql(M.dismissRender, { id })).dismissRender;
          render = { ...render, ...d };
          paint(render);
        }),
      );
      errorArea.append(h("div", { class: "error", role: "alert" }, `The render failed: ${r.errorMessage || "unknown error"}`), dismiss);
    } else if (r.status === "failed" && r.errorMessage) {
      errorArea.append(h("div", { class: "error" }, `Failed (dismissed): ${r.errorMessage}`));
    }
    if (!["done", "error", "failed"].includes(r.status)) media.append(h("p", { class: "muted" }, "Rendering… this page updates by itself."));
  }

  const confirmBox = h("div", { class: "confirm", hidden: true });
  const reallyDelete = button("Delete render", () =>
    busy(reallyDelete, errors, async () => {
      await gql(M.deleteRender, { id });
      toast("Render deleted.");
      location.hash = render.model ? `#/models/${render.model.id}` : "#/models";
    }), { class: "danger" });
  confirmBox.append(h("p", {}, "Delete this render and its files?"), reallyDelete, button("Cancel", () => (confirmBox.hidden = true)));

  paint(render);
  clear(
    main,
    h("p", {}, render.model ? h("a", { href: `#/models/${render.model.id}` }, `← ${render.model.title || render.model.originalName}`) : h("a", { href: "#/models" }, "← Models")),
    h("h1", {}, dataset ? "Dataset " : "Render ", h("code", {}, id), " ", status),
    h("p", { class: "muted" }, `${describeSettings(render.renderSettings)} · created ${formatDate(render.createdAt)}`, render.fileSize ? ` · ${formatBytes(render.fileSize)}` : "", render.isSystemPreview ? " · system preview" : ""),
    errorArea,
    media,
    downloads,
    h("details", {}, h("summary", {}, "Settings"), h("pre", {}, JSON.stringify(render.renderSettings, null, 2))),
    h("div", { class: "actions" }, button("Delete…", () => { confirmBox.hidden = false; reallyDelete.focus(); }, { class: "danger" }), confirmBox),
    errors,
  );
  if (!["done", "error", "failed"].includes(render.status)) {
    ctx.watchRender(id, (u) => {
      const was = render.status;
      render = { ...render, ...u };
      if (u.status !== was || u.status === "done") paint(render);
    });
  }
}
