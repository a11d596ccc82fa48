"""Every error the orchestrator raises on purpose derives from OrchestratorError.

    OrchestratorError
    ├── DefinitionError            the user's definitions are wrong
    │   ├── DuplicateAssetError    two definitions share one key
    │   ├── CycleError             the graph has a cycle
    │   ├── UnknownAssetError      a name or key that no definition declares
    │   └── DefinitionsLoadError   the definitions module failed to import
    ├── SelectionError             a selection string that does not parse, or that matches nothing
    │   └── NothingModifiedError   only `state:` parts, and nothing changed (slim CI: nothing to do)
    ├── PartitionError             a partition key outside an asset's partitions
    ├── ExecutionError             a run could not be carried out
    ├── IOManagerError             a value an IO manager cannot store or read
    ├── ResourceError              a resource that is misconfigured or fails to set up
    └── StorageError               the event store
        ├── StorageConnectionError cannot connect (the URL is shown without its password)
        └── UnknownRunError        no run with that id
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class OrchestratorError(Exception):
    """Root of the orchestrator's errors."""


class DefinitionError(OrchestratorError):
    pass


class DuplicateAssetError(DefinitionError):
    pass


class CycleError(DefinitionError):
    pass


class UnknownAssetError(DefinitionError):
    pass


class DefinitionsLoadError(DefinitionError):
    pass


class SelectionError(OrchestratorError):
    pass


class NothingModifiedError(SelectionError):
    """A selection made only of `state:` parts found nothing changed: for slim CI, nothing to do."""


class PartitionError(OrchestratorError):
    pass


class ExecutionError(OrchestratorError):
    pass


class IOManagerError(OrchestratorError):
    pass


class ResourceError(OrchestratorError):
    pass


class StorageError(OrchestratorError):
    pass


class StorageConnectionError(StorageError):
    pass


class UnknownRunError(StorageError):
    pass


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to a misspelt name, or None."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """' Did you mean 'x'?' when a close candidate exists, else ''."""
    match = suggest(name, candidates)
    return f" Did you mean '{match}'?" if match else ""
