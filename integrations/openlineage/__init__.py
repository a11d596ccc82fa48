"""OpenLineage: START / COMPLETE / FAIL run events per materialization, through openlineage-python.

Enabled by the environment, nothing to change in the definitions:

    ORCH_OPENLINEAGE_URL=http://marquez:5000 orch materialize     # HTTP (api/v1/lineage)
    ORCH_OPENLINEAGE_URL=file:///var/log/lineage.ndjson ...       # one JSON event per line
    ORCH_OPENLINEAGE_URL=console ...                              # logged
    OPENLINEAGE_URL=... / OPENLINEAGE_CONFIG=openlineage.yml / OPENLINEAGE__TRANSPORT__TYPE=...
                                                                  # the client's own configuration

Each materialized asset is one OpenLineage run (job = the asset, parent = the orchestrator run):
START when its step starts, COMPLETE when its step ends (FAIL, with an errorMessage facet, if it
failed; ABORT if it was skipped after starting). The COMPLETE event's output dataset carries the
`schema` facet (the Arrow schema the IO manager recorded, else the column lineage's columns and
types), `columnLineage` (integrations.lineage, computed once per run) and `dataQualityAssertions`
(the asset's check results: dbt tests, unit tests, Python checks). Inputs are its upstream assets.
The core knows nothing of this: `listener.from_environment` is an `orchestrator.run_listeners`
entry point.
"""

from __future__ import annotations

from integrations.openlineage.listener import OpenLineageListener, from_environment
from integrations.openlineage.transport import client_from_environment

__all__ = ["OpenLineageListener", "client_from_environment", "from_environment"]
