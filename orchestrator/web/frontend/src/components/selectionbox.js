// The selection box: the CLI's grammar (+x, x+, tag:, group:, key:, kind:, path:, ...), resolved
// on the server; errors show under the box.

import { h } from "../dom.js";

export function selectionBox({ value = "", placeholder = "Selection, e.g. +marts/fct_orders  tag:finance  group:staging", onApply }) {
  const input = h("input", { class: "input mono selection-input", value, placeholder, spellcheck: false,
    "aria-label": "Selection", title: "The same selection grammar as `orch ... --select`" });
  const error = h("div", { class: "field-error" });
  const apply = () => onApply(input.value.trim(), (message) => { error.textContent = message || ""; });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
  const box = h("div", { class: "selection-box" },
    h("div", { class: "row" }, input,
      h("button", { class: "button", onclick: apply }, "Select"),
      h("button", { class: "button ghost", onclick: () => { input.value = ""; apply(); } }, "Clear")),
    error);
  return { element: box, input, setError: (m) => { error.textContent = m || ""; } };
}
