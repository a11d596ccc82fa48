// Log in with the server's token (ORCH_UI_TOKEN): the server sets an HttpOnly session cookie.

import { api } from "../api.js";
import { h } from "../dom.js";
import { navigate } from "../router.js";

export async function loginPage(outlet, _params, query) {
  const token = h("input", { class: "input", type: "password", placeholder: "Token", autocomplete: "current-password", "aria-label": "Token" });
  const error = h("div", { class: "field-error" });
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api("/login", { method: "POST", body: { token: token.value } });
      navigate(query.next && query.next.startsWith("/") && !query.next.startsWith("//") ? query.next : "/assets", { replace: true });
    } catch (err) { error.textContent = err.message; }
  };
  outlet.append(h("div", { class: "login" },
    h("form", { class: "card login-card", onsubmit: submit },
      h("h1", {}, "Log in to orch"),
      h("p", { class: "muted" }, "This server was started with a token (ORCH_UI_TOKEN or --token). Enter it to continue."),
      token, error, h("button", { class: "button primary", type: "submit" }, "Log in"))));
  token.focus();
}
