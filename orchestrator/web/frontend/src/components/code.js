// Source code with light highlighting (keywords, strings, comments, numbers) and line numbers.

import { h } from "../dom.js";

const KEYWORDS = {
  sql: /\b(select|from|where|group|by|order|having|join|left|right|inner|outer|full|cross|on|using|as|and|or|not|in|is|null|case|when|then|else|end|with|union|all|distinct|limit|over|partition|qualify|cast|coalesce|sum|count|avg|min|max|exists|between|like|create|table|view|insert|into|values|true|false)\b/gi,
  python: /\b(def|return|import|from|as|if|elif|else|for|while|in|not|and|or|is|None|True|False|with|class|lambda|yield|try|except|finally|raise|pass|async|await)\b/g,
};

function highlight(line, language) {
  const spans = [];
  const comment = language === "python" ? line.indexOf("#") : line.indexOf("--");
  const codePart = comment >= 0 ? line.slice(0, comment) : line;
  const tokens = codePart.split(/('[^']*'|"[^"]*"|\{\{[^}]*\}\}|\{%[^%]*%\}|\{#[^#]*#\})/);
  for (const token of tokens) {
    if (!token) continue;
    if (/^['"]/.test(token)) spans.push(h("span", { class: "tok-str" }, token));
    else if (/^\{#/.test(token)) spans.push(h("span", { class: "tok-comment" }, token));
    else if (/^\{[{%]/.test(token)) spans.push(h("span", { class: "tok-jinja" }, token));
    else {
      let last = 0;
      const re = new RegExp(`${(KEYWORDS[language] || /$^/).source}|\\b\\d+(\\.\\d+)?\\b|@\\w+`, "gi");
      for (const m of token.matchAll(re)) {
        if (m.index > last) spans.push(token.slice(last, m.index));
        const cls = /^\d/.test(m[0]) ? "tok-num" : m[0].startsWith("@") ? "tok-deco" : "tok-kw";
        spans.push(h("span", { class: cls }, m[0]));
        last = m.index + m[0].length;
      }
      if (last < token.length) spans.push(token.slice(last));
    }
  }
  if (comment >= 0) spans.push(h("span", { class: "tok-comment" }, line.slice(comment)));
  return spans;
}

export function codeBlock(text, language = "text", { firstLine = 1 } = {}) {
  const lines = (text || "").replace(/\n$/, "").split("\n");
  return h("div", { class: "code" },
    h("pre", { class: "code-lines", "aria-hidden": "true" }, lines.map((_, i) => String(firstLine + i)).join("\n")),
    h("pre", { class: "code-text" }, h("code", {}, lines.map((l, i) => [highlight(l, language), i < lines.length - 1 ? "\n" : ""]))));
}
