// A search box with suggestions over many keys (10,000 graph nodes): matches are computed as you
// type and at most `limit` are shown, so no list of every key ever enters the DOM.

import { fill, h } from "../dom.js";

export function finder({ keys, onPick, placeholder = "Find an asset…", limit = 12 }) {
  const lower = keys.map((k) => k.toLowerCase());
  const input = h("input", { class: "input", placeholder, "aria-label": placeholder.replace("…", ""), autocomplete: "off", spellcheck: false });
  const list = h("ul", { class: "finder-list", role: "listbox", hidden: true });
  let matches = [];
  let active = 0;
  const draw = () => {
    fill(list, matches.map((k, i) => h("li", { role: "option", class: i === active ? "active" : "",
      onmousedown: (e) => { e.preventDefault(); pick(k); } }, k)));
    list.hidden = !matches.length;
  };
  const pick = (key) => { input.value = key; matches = []; draw(); onPick(key); };
  input.addEventListener("input", () => {
    const text = input.value.trim().toLowerCase();
    matches = [];
    if (text) {
      for (let i = 0; i < keys.length && matches.length < limit; i++) if (lower[i].includes(text)) matches.push(keys[i]);
    }
    active = 0;
    draw();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % Math.max(1, matches.length);
      draw();
    } else if (e.key === "Enter") {
      if (matches[active]) pick(matches[active]);
      else if (keys.includes(input.value.trim())) pick(input.value.trim());
    } else if (e.key === "Escape") { matches = []; draw(); }
  });
  input.addEventListener("blur", () => { matches = []; draw(); });
  return h("div", { class: "finder" }, input, list);
}
