// Datasets: the account's dataset renders with their overview image and bundle download.

import { assets, gql } from "../api.js";
import { Q } from "../queries.js";
import { storedMember } from "../zip.js";
import { clear, errorBox, formatDate, h, pager, statusBadge } from "../ui.js";

const LIMIT = 50;

export async function datasetsView(main, _params, ctx) {
  const results = h("div", {});
  let offset = 0;
  async function load() {
    try {
      // Renders has no output filter: page through renders and keep the datasets.
      const page = (await gql(Q.datasets, { limit: LIMIT, offset })).renders;
      const items = page.items.filter((r) => r.renderSettings && r.renderSettings.effect === "dataset");
      results.replaceChildren(
        items.length ? h("ul", { class: "grid" }, items.map((r) => card(r, ctx))) : h("p", { class: "empty" }, "No dataset renders on this page. Choose the output “dataset” in a render form."),
        pager(page.totalCount, LIMIT, offset, (o) => {
          offset = o;
          load();
        }),
      );
    } catch (err) {
      results.replaceChildren(errorBox(err));
    }
  }
  clear(main, h("h1", {}, "Datasets"), results);
  await load();
}

// overview.webp is a member of the dataset's ZIP (stored uncompressed): read with Range requests.
function overview(id) {
  const box = h("figure", { class: "overview-box" }, h("img", { src: assets.poster(id), alt: "Poster of the dataset", loading: "lazy" }));
  storedMember(assets.bundle(id), "overview.webp", "image/webp")
    .then((blob) => {
      const img = h("img", { alt: "Overview: colour, depth, normals and masks of view 0", class: "overview", "data-testid": "overview" });
      img.src = URL.createObjectURL(blob);
      box.replaceChildren(img, h("figcaption", {}, "overview.webp: colour, depth, normals, masks"));
    })
    .catch(() => {
      /* the poster stays */
    });
  return box;
}

function card(r, ctx) {
  const s = r.renderSettings;
  const status = h("span", {}, statusBadge(r.status));
  const body = h("div", {});
  const paint = (status_) => {
    body.replaceChildren();
    if (status_ === "done") {
      body.append(
        overview(r.id),
        h("a", { class: "button", href: assets.bundle(r.id), download: "" }, "Download dataset (ZIP)"),
      );
    }
  };
  paint(r.status);
  if (!["done", "error", "failed"].includes(r.status)) {
    ctx.watchRender(r.id, (u) => {
      status.replaceChildren(statusBadge(u.status));
      paint(u.status);
    });
  }
  return h(
    "li",
    { class: "card", dataset: { renderId: r.id } },
    h("a", { href: `#/renders/${r.id}` }, r.model ? r.model.title || r.model.originalName : r.id),
    " ",
    status,
    h("div", { class: "muted" }, `${s.datasetQuality} · ${s.coverage} · ${formatDate(r.createdAt)}`),
    body,
  );
}
