"""The built UI ships inside the package: it is complete, and built from the sources as they are
now (BUNDLE.json records their SHA-256; `make bundle` rebuilds it)."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib

from orchestrator.web.app import STATIC

FRONTEND = STATIC.parent / "frontend"
REPO = STATIC.parents[2]


def source_digest() -> str:
    """The same digest as build.mjs's sourceDigest(): build.mjs, package.json, package-lock.json,
    then every file under src/, directories walked in name order."""
    def walk(folder: str) -> list[str]:
        found = []
        for path in sorted((FRONTEND / folder).iterdir(), key=lambda p: p.name):
            name = f"{folder}/{path.name}"
            found += walk(name) if path.is_dir() else [name]
        return found

    digest = hashlib.sha256()
    for name in ["build.mjs", "package.json", "package-lock.json", *walk("src")]:
        digest.update(name.encode() + b"\0" + (FRONTEND / name).read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_bundle_is_built_from_the_current_sources() -> None:
    recorded = json.loads((STATIC / "BUNDLE.json").read_text())
    assert recorded["sources_sha256"] == source_digest(), (
        "orchestrator/web/static/ is stale: run `make bundle` and commit orchestrator/web/static/.")
    for name, size in recorded["files"].items():
        assert (STATIC / name).stat().st_size == size, name


def test_the_page_loads_only_files_of_the_bundle() -> None:
    index = (STATIC / "index.html").read_text()
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', index):
        assert (STATIC / path.removeprefix("/static/")).is_file(), path
    assert "http://" not in index and "https://" not in index  # nothing from a CDN
    assert (STATIC / "elk-worker.js").is_file() and (STATIC / "swagger-ui-bundle.js").is_file()


def test_the_package_data_ships_every_built_file() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["orchestrator"]
    assert "web/static/*" in patterns
    assert all(p.is_file() for p in STATIC.iterdir())  # flat: the glob takes them all
    assert not (FRONTEND / "__init__.py").exists()  # the sources are not a package: not shipped
