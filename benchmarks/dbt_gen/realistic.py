"""Turn a generated project into one shaped like real projects, keeping its true lineage.

    made = generate_project(root, models=1000)
    make_realistic(made)        # custom folders, a local package, vars, macros in the models

- The folders are renamed and dbt_project.yml says so: models/ -> transform/, seeds/ -> data/,
  tests/ -> checks/, macros/ -> lib/ (asset keys do not change: they are relative to model-paths).
- A local package, `bench_utils` (packages/bench_utils, installed by `dbt deps`), holds the macros.
- `share` of the models start with `{{ bench_utils.audit_header(...) }}`, a macro that renders a
  SQL comment from a project var, so they need dbt's compile (the renderer does not expand macros).
- `introspective` models also call `bench_utils.warehouse_note()`, which runs a query: dbt cannot
  compile them without a warehouse, like a date spine of dbt_utils.

The macros render comments only, so `lineage_truth.json` stays the truth.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from .generate import GeneratedProject

FOLDERS = {"models": "transform", "seeds": "data", "tests": "checks", "macros": "lib"}
PACKAGE = "bench_utils"
MACROS = {
    "audit_header.sql": """{% macro audit_header(name) -%}
-- {{ name }} built for {{ var('bench_environment', 'dev') }}
{%- endmacro %}
""",
    "warehouse_note.sql": """{% macro warehouse_note() -%}
{%- set found = run_query("select 42 as answer") -%}
-- the warehouse answers {{ found.columns[0].values()[0] if execute else 0 }}
{%- endmacro %}
""",
}


def make_realistic(project: GeneratedProject, share: float = 0.3, introspective: int = 5, seed: int = 0) -> dict:
    """Rewrite `project` in place (see the module docstring); returns what was done."""
    root = project.root
    for old, new in FOLDERS.items():
        if (root / old).exists():
            shutil.rmtree(root / new, ignore_errors=True)
            (root / old).rename(root / new)
    config = (root / "dbt_project.yml").read_text()
    for key, old in (("model-paths", "models"), ("seed-paths", "seeds"), ("test-paths", "tests"),
                     ("macro-paths", "macros")):
        config = config.replace(f'{key}: ["{old}"]', f'{key}: ["{FOLDERS[old]}"]')
    if "\nvars:" not in config:
        config += "\nvars:\n  bench_environment: benchmark\n"
    (root / "dbt_project.yml").write_text(config)
    package = root / "packages" / PACKAGE
    (package / "macros").mkdir(parents=True, exist_ok=True)
    (package / "dbt_project.yml").write_text(f"name: {PACKAGE}\nversion: '1.0.0'\nconfig-version: 2\n")
    for name, body in MACROS.items():
        (package / "macros" / name).write_text(body)
    (root / "packages.yml").write_text(f"packages:\n  - local: packages/{PACKAGE}\n")
    models = sorted((root / "transform").rglob("*.sql"))
    rng = random.Random(seed)
    chosen = rng.sample(models, round(share * len(models)))
    queried = set(chosen[:introspective])
    for path in chosen:
        sql = path.read_text()
        header = f"{{{{ {PACKAGE}.audit_header('{path.stem}') }}}}\n"
        if path in queried:
            header += f"{{{{ {PACKAGE}.warehouse_note() }}}}\n"
        if sql.startswith("{{ config("):  # keep config() first, as projects write it
            first, _, rest = sql.partition("\n")
            path.write_text(f"{first}\n{header}{rest}")
        else:
            path.write_text(header + sql)
    return {"models": len(models), "with_macros": len(chosen), "introspective": len(queried)}
