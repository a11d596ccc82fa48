// Builds the UI into ../static/ (shipped inside the Python package): app.js and app.css bundled and
// minified by esbuild from src/, the ELK layout worker and Swagger UI copied from node_modules,
// index.html, and BUNDLE.json: the SHA-256 of every source, so a test can tell a stale bundle.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");
const vendored = {
  "elk-worker.js": "node_modules/elkjs/lib/elk-worker.min.js",
  "swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
};

export function sourceFiles() {
  const walk = (dir) => readdirSync(join(here, dir)).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(here, path)).isDirectory() ? walk(path) : [path];
  });
  return ["build.mjs", "package.json", "package-lock.json", ...walk("src")];
}

export function sourceDigest() {
  const digest = createHash("sha256");
  for (const path of sourceFiles()) {
    digest.update(path.replaceAll("\\", "/") + "\0");
    digest.update(readFileSync(join(here, path)));
    digest.update("\0");
  }
  return digest.digest("hex");
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src/main.js") },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  legalComments: "linked",
  logLevel: "warning",
});
await build({
  entryPoints: { app: join(here, "src/styles.css") },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
for (const [name, from] of Object.entries(vendored)) copyFileSync(join(here, from), join(out, name));
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
copyFileSync(join(here, "src/favicon.svg"), join(out, "favicon.svg"));
const files = Object.fromEntries(readdirSync(out).sort().map((name) => [name, statSync(join(out, name)).size]));
writeFileSync(join(out, "BUNDLE.json"), JSON.stringify({ sources_sha256: sourceDigest(), files }, null, 1) + "\n");
console.log(`built ${relative(process.cwd(), out)}: ${Object.keys(files).length} files, ` +
            `${Math.round(Object.values(files).reduce((a, b) => a + b, 0) / 1024)} KiB`);
