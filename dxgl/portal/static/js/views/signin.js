import { authCall } from "../api.js";
import { afterSignin, signedIn } from "../app.js";
import { clear, errorBox, field, h } from "../ui.js";

export async function signinView(main) {
  const params = new URLSearchParams(location.search);
  const errors = h("div", { class: "errors" });
  if (params.get("signin") === "invalid") {
    errors.append(
      errorBox({ code: "invalid_link", message: "That sign-in link is invalid, expired or already used. Sign in with your password or ask for a new link." }),
    );
  }
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", novalidate: true, "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    errors,
    field("Email", email),
    field("Password", password),
    submit,
    h("p", { class: "muted" }, "Or open a one-time sign-in link (", h("code", {}, "dxgl accounts signin-link --email …"), ")."),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    submit.disabled = true;
    try {
      const data = await authCall("POST", "/auth/signin", { email: email.value.trim(), password: password.value });
      signedIn(data);
      afterSignin();
    } catch (err) {
      errors.replaceChildren(errorBox(err));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  clear(main, form);
  email.focus();
}
