// One palette for states everywhere (badges in CSS use the same values).
export const STATE_COLORS = {
  materialized: "#16a34a", fresh: "#16a34a", succeeded: "#16a34a",
  stale: "#d97706", late: "#9333ea",
  failed: "#dc2626",
  running: "#2563eb", started: "#2563eb", queued: "#7c3aed", starting: "#7c3aed",
  missing: "#9ca3af", pending: "#cbd5e1", requested: "#7c3aed", canceling: "#a855f7",
  external: "#64748b", skipped: "#eab308", canceled: "#a855f7",
};

export const GROUP_COLORS = ["#0ea5e9", "#8b5cf6", "#14b8a6", "#f97316", "#ec4899", "#84cc16", "#6366f1", "#06b6d4",
  "#f43f5e", "#a3a3a3", "#22c55e", "#eab308"];

export function groupColor(i) {
  return GROUP_COLORS[i % GROUP_COLORS.length];
}

export const EDGE_KIND_COLORS = { direct: "#2563eb", transform: "#7c3aed", aggregate: "#db2777", filter: "#f59e0b" };
