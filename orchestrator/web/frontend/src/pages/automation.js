// Automation: schedules and sensors with their ticks, declarative-automation evaluations.

import { api } from "../api.js";
import { errorBox, h } from "../dom.js";

export async function automationPage(outlet) {
  outlet.append(h("header", { class: "page-header" }, h("h1", {}, "Automation")));
  try {
    await api("/automation");
  } catch (e) {
    outlet.append(errorBox(e));
  }
}
