// The shell: a sidebar of pages and the page outlet; each page module renders into the outlet and
// returns its cleanup (closing streams, stopping timers).

import { h } from "./dom.js";
import { navigate, route, start } from "./router.js";
import { catalogPage } from "./pages/catalog.js";
import { graphPage } from "./pages/graph.js";
import { assetPage } from "./pages/asset.js";
import { runsPage } from "./pages/runs.js";
import { runPage } from "./pages/run.js";
import { backfillsPage, backfillPage } from "./pages/backfills.js";
import { automationPage } from "./pages/automation.js";
import { loginPage } from "./pages/login.js";

const NAV = [
  ["/assets", "Assets", "M3 5h18v4H3zM3 11h18v4H3zM3 17h18v4H3z"],
  ["/graph", "Graph", "M6 6m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0M18 12m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0M6 18m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0M8.3 7.2 15.7 10.8M8.3 16.8 15.7 13.2"],
  ["/runs", "Runs", "M8 5v14l11-7z"],
  ["/backfills", "Backfills", "M4 6h16M4 12h10M4 18h6"],
  ["/automation", "Automation", "M12 3v3M12 18v3M3 12h3M18 12h3M5.6 5.6l2.1 2.1M16.3 16.3l2.1 2.1M5.6 18.4l2.1-2.1M16.3 7.7l2.1-2.1M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8"],
];

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "nav-icon");
  const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
  p.setAttribute("d", path);
  svg.append(p);
  return svg;
}

function shell() {
  const links = NAV.map(([href, label, path]) => h("a", { href, "data-link": "", class: "nav-link", dataset: { prefix: href } }, icon(path), label));
  const outlet = h("main", { class: "outlet", id: "outlet" });
  const app = h("div", { class: "shell" },
    h("nav", { class: "sidebar" },
      h("a", { href: "/assets", "data-link": "", class: "brand" }, h("img", { src: "/static/favicon.svg", alt: "" }), "orch"),
      ...links,
      h("div", { class: "nav-spacer" }),
      h("a", { href: "/docs", class: "nav-link nav-docs", target: "_blank" }, icon("M6 3h9l4 4v14H6zM14 3v5h5"), "API docs")),
    outlet);
  document.getElementById("app").replaceChildren(app);
  return { outlet, links };
}

const { outlet, links } = shell();
route("/", () => navigate("/assets", { replace: true }));
route("/assets", catalogPage);
route("/assets/*key", assetPage);
route("/graph", graphPage);
route("/runs", runsPage);
route("/runs/:id", runPage);
route("/backfills", backfillsPage);
route("/backfills/:id", backfillPage);
route("/automation", automationPage);
route("/login", loginPage);
start(outlet, (path) => {
  for (const a of links) a.classList.toggle("active", path.startsWith(a.dataset.prefix));
});
