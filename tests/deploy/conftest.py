"""Fixtures of the deployment tests: the repository's deployment files, parsed, and one real
installation made by scripts/install.sh into a temporary root (shared by the whole session)."""

from __future__ import annotations

import pytest

from tests.deploy.deploy_support import APP_DIR, REPO, Dockerfile, Installation, parse_dockerfile, run_install


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    """The repository's Dockerfile, parsed."""
    return parse_dockerfile(REPO / "Dockerfile")


@pytest.fixture(scope="session")
def compose() -> dict:
    """docker-compose.yml as YAML (merge keys resolved)."""
    import yaml

    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def installation(tmp_path_factory) -> Installation:
    """One real installation (virtualenv from this checkout with the timescaledb extra, config,
    db init, unit) per session."""
    prefix = tmp_path_factory.mktemp("install-root")
    proc = run_install(prefix, "--extras", "timescaledb")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"install.sh failed ({proc.returncode}):\n{output[-4000:]}"
    return Installation(prefix=prefix, app_dir=prefix / APP_DIR.lstrip("/"), output=output)
