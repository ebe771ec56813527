// Models: a grid of posters (latest done render) with title, SKU and tags; search, tag filter,
// archived toggle, pages.

import { assets, gql } from "../api.js";
import { Q } from "../queries.js";
import { clear, errorBox, field, h, pager } from "../ui.js";
import { parseTags } from "./upload.js";

const LIMIT = 24;
const filters = { search: "", tags: "", archived: false, offset: 0 };

export function latestDone(renders) {
  return (renders || []).filter((r) => r.status === "done").sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0] || null;
}

export async function modelsView(main) {
  const search = h("input", { type: "search", name: "search", value: filters.search, placeholder: "Title, SKU or file name" });
  const tags = h("input", { type: "text", name: "tags", value: filters.tags, placeholder: "tag, tag" });
  const archived = h("input", { type: "checkbox", id: "archived-toggle", checked: filters.archived });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "filters row", role: "search", novalidate: true },
    field("Search", search),
    field("Tags (any of)", tags),
    h("div", { class: "field check" }, archived, h("label", { for: archived.id }, "Archived only")),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filters.search = search.value.trim();
    filters.tags = tags.value;
    filters.offset = 0;
    load();
  });
  archived.addEventListener("change", () => {
    filters.archived = archived.checked;
    filters.offset = 0;
    load();
  });

  async function load() {
    results.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const wanted = parseTags(filters.tags);
    try {
      const data = await gql(Q.models, {
        limit: LIMIT,
        offset: filters.offset,
        tags: wanted.length ? wanted : null,
        archived: filters.archived,
        search: filters.search || null,
      });
      const page = data.models;
      if (!page.items.length) {
        results.replaceChildren(h("p", { class: "empty" }, filters.search || wanted.length ? "No model matches." : "No models yet. ", h("a", { href: "#/upload" }, "Upload one")));
        return;
      }
      results.replaceChildren(
        h("ul", { class: "grid" }, page.items.map(card)),
        pager(page.totalCount, LIMIT, filters.offset, (offset) => {
          filters.offset = offset;
          load();
        }),
      );
    } catch (err) {
      results.replaceChildren(errorBox(err));
    }
  }

  clear(main, h("div", { class: "head" }, h("h1", {}, "Models"), h("a", { class: "button primary", href: "#/upload" }, "Upload")), form, results);
  await load();
}

function card(m) {
  const done = latestDone(m.renders);
  const title = m.title || m.originalName;
  const img = done
    ? h("img", { src: assets.poster(done.id), alt: "", loading: "lazy", width: "320", height: "180" })
    : h("div", { class: "noposter", "aria-hidden": "true" }, m.broken ? "broken" : "no render yet");
  return h(
    "li",
    { class: "card model-card", dataset: { modelId: m.id } },
    h("a", { href: `#/models/${m.id}`, class: "cover" }, img, h("span", { class: "title" }, title)),
    m.sku ? h("div", { class: "muted" }, `SKU ${m.sku}`) : null,
    m.tags.length ? h("ul", { class: "tags", "aria-label": "Tags" }, m.tags.map((t) => h("li", {}, t))) : null,
    m.archived ? h("span", { class: "badge" }, "archived") : null,
  );
}
