// Account / API: credits, the ledger (paged), API tokens (create: raw token shown once; list; revoke).

import { gql } from "../api.js";
import { M, Q } from "../queries.js";
import { loadContract } from "../settings.js";
import { button, busy, clear, errorBox, field, formatDate, h, pager, toast } from "../ui.js";

const LEDGER_LIMIT = 20;

function signed(n) {
  return n > 0 ? `+${n}` : String(n);
}
const EXPIRY = [
  ["", "Never"],
  [String(7 * 86400), "7 days"],
  [String(30 * 86400), "30 days"],
  [String(90 * 86400), "90 days"],
  [String(365 * 86400), "1 year"],
];

export async function accountView(main) {
  const contract = await loadContract();
  const account = (await gql(Q.account)).account;
  const ledgerBox = h("div", {});
  let ledgerOffset = 0;

  async function loadLedger() {
    try {
      const page = (await gql(Q.ledger, { limit: LEDGER_LIMIT, offset: ledgerOffset })).ledger;
      ledgerBox.replaceChildren(
        page.items.length
          ? h(
              "div",
              { class: "scroll" },
              h(
                "table",
                { class: "ledger" },
                h("thead", {}, h("tr", {}, ["When", "What", "Paid", "Free", "Render", "Note"].map((t) => h("th", { scope: "col" }, t)))),
                h(
                  "tbody",
                  {},
                  page.items.map((e) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, formatDate(e.createdAt)),
                      h("td", {}, e.kind),
                      h("td", { class: "num" }, signed(e.paidDelta)),
                      h("td", { class: "num" }, signed(e.freeDelta)),
                      h("td", {}, e.renderId ? h("a", { href: `#/renders/${e.renderId}` }, e.renderId) : ""),
                      h("td", {}, e.note || ""),
                    ),
                  ),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No ledger entries yet."),
        pager(page.totalCount, LEDGER_LIMIT, ledgerOffset, (o) => {
          ledgerOffset = o;
          loadLedger();
        }),
      );
    } catch (err) {
      ledgerBox.replaceChildren(errorBox(err));
    }
  }

  // --- tokens
  const tokensBox = h("div", {});
  const created = h("div", { "aria-live": "polite" });
  const scopeBoxes = contract.scopes.map((s) => h("input", { type: "checkbox", name: "scope", value: s, id: `scope-${s.replace(":", "-")}`, checked: true }));
  const expiry = h("select", { name: "expiry" }, EXPIRY.map(([v, t]) => h("option", { value: v }, t)));
  const tokenErrors = h("div", { class: "errors" });
  const createBtn = h("button", { type: "submit", class: "primary" }, "Create token");
  const tokenForm = h(
    "form",
    { class: "card", novalidate: true, "aria-labelledby": "tok-h" },
    h("h2", { id: "tok-h" }, "New API token"),
    h("fieldset", {}, h("legend", {}, "Scopes"), scopeBoxes.map((b) => h("span", { class: "check" }, b, h("label", { for: b.id }, b.value)))),
    field("Expires", expiry),
    tokenErrors,
    createBtn,
    created,
  );
  tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(createBtn, tokenErrors, async () => {
      const scopes = scopeBoxes.filter((b) => b.checked).map((b) => b.value);
      const vars = { scopes, expiresInSeconds: expiry.value ? Number(expiry.value) : null };
      const result = (await gql(M.createApiToken, vars)).createApiToken;
      const raw = h("input", { type: "text", readonly: true, value: result.rawToken, class: "raw-token", "aria-label": "The new token", "data-testid": "raw-token" });
      const copy = button("Copy", async () => {
        try {
          await navigator.clipboard.writeText(result.rawToken);
          toast("Copied.");
        } catch {
          raw.select();
          document.execCommand("copy");
          toast("Copied.");
        }
      });
      created.replaceChildren(
        h("div", { class: "once", role: "status" }, h("p", {}, h("strong", {}, "Store this token now: it is shown only once.")), h("div", { class: "row" }, raw, copy)),
      );
      raw.select();
      await loadTokens();
    });
  });

  async function loadTokens() {
    try {
      const tokens = (await gql(Q.apiTokens)).apiTokens;
      tokensBox.replaceChildren(
        tokens.length
          ? h(
              "div",
              { class: "scroll" },
              h(
                "table",
                { class: "tokens" },
                h("thead", {}, h("tr", {}, ["Prefix", "Scopes", "Created", "Expires", ""].map((t) => h("th", { scope: "col" }, t)))),
                h("tbody", {}, tokens.map(tokenRow)),
              ),
            )
          : h("p", { class: "empty" }, "No API tokens."),
      );
    } catch (err) {
      tokensBox.replaceChildren(errorBox(err));
    }
  }

  function tokenRow(t) {
    const errs = h("span", {});
    const revoked = Boolean(t.revokedAt);
    const revoke = revoked
      ? h("span", { class: "badge" }, `revoked ${formatDate(t.revokedAt)}`)
      : button("Revoke", () =>
          busy(revoke, errs, async () => {
            await gql(M.revokeApiToken, { id: t.id });
            toast(`Token ${t.prefix}… revoked.`);
            await loadTokens();
          }), { class: "danger", "aria-label": `Revoke ${t.prefix}` });
    return h(
      "tr",
      { dataset: { tokenId: t.id, prefix: t.prefix } },
      h("td", {}, h("code", {}, `${t.prefix}…`)),
      h("td", {}, t.scopes.join(", ")),
      h("td", {}, formatDate(t.createdAt)),
      h("td", {}, t.expiresAt ? formatDate(t.expiresAt) : "never"),
      h("td", {}, revoke, errs),
    );
  }

  clear(
    main,
    h("h1", {}, "Account"),
    h(
      "section",
      { class: "card" },
      h("p", {}, h("strong", {}, account.email)),
      h(
        "dl",
        { class: "credits" },
        h("dt", {}, "Paid credits"),
        h("dd", { "data-testid": "paid-credits" }, String(account.paidCredits)),
        h("dt", {}, "Free credits"),
        h("dd", { "data-testid": "free-credits" }, String(account.freeCredits)),
        h("dt", {}, "Total"),
        h("dd", {}, String(account.credits)),
      ),
    ),
    h("section", { class: "card" }, h("h2", {}, "Ledger"), ledgerBox),
    tokenForm,
    h("section", { class: "card" }, h("h2", {}, "API tokens"), tokensBox),
  );
  await Promise.all([loadLedger(), loadTokens()]);
}
