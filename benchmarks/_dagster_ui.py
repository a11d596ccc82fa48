"""The same 10,000-asset graph for Dagster's webserver (benchmarks/ui.py runs `dagster-webserver -f` on
this file in benchmarks/.work/dagster-venv): dagster-dbt's assets of the generated project's manifest
(UI_BENCH_MANIFEST) plus the Python assets of _ui_data.python_specs, with the same upstream marts."""

# No `from __future__ import annotations`: Dagster reads annotations at runtime.
import os
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")  # dagster-dbt / dagster-webserver library-version warnings

import json  # noqa: E402

from dagster import AssetExecutionContext, Definitions, asset  # noqa: E402
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ui_data import python_specs  # noqa: E402

MANIFEST = Path(os.environ["UI_BENCH_MANIFEST"])
MARTS = os.environ["UI_BENCH_MARTS"].split(",")  # our keys, marts/<name>, sorted: the specs' input


@dbt_assets(manifest=MANIFEST)
def bench_dbt(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()


def _python(name, upstream):
    @asset(name=name, group_name="python", deps=upstream)
    def _made():
        return None

    return _made


# one pass over the manifest (get_asset_key_for_model scans it once per call: 2,700 marts x 10,000 nodes)
_models = {n["name"]: n for n in json.loads(MANIFEST.read_text())["nodes"].values() if n["resource_type"] == "model"}
_translator = DagsterDbtTranslator()
keys = {mart: _translator.get_asset_key(_models[mart.split("/")[-1]]) for mart in MARTS}
python_assets = [_python(name, [keys[m] for m in parents]) for name, parents in python_specs(MARTS)]
defs = Definitions(assets=[bench_dbt, *python_assets],
                   resources={"dbt": DbtCliResource(project_dir=os.fspath(MANIFEST.parent.parent),
                                                    dbt_executable=os.fspath(Path(sys.executable).parent / "dbt"))})
