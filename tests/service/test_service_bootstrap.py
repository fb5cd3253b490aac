"""Pre-shared tokens from the environment (docker compose's .env) work from the first start."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

ADMIN = "lw_bootstrap-admin-token-for-tests-0001"
COLLECTOR = "lw_bootstrap-collector-token-for-tests-0002"


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        config_file=tmp_path / "none.toml",
        bootstrap_admin_token=ADMIN,
        bootstrap_collector_token=COLLECTOR,
    )


def test_bootstrap_tokens_get_their_roles_and_survive_a_restart(
    database_url: str, tmp_path: Path
) -> None:
    for _ in range(2):  # the second start finds both tokens known and changes nothing
        with TestClient(create_app(_settings(database_url, tmp_path))) as client:
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {ADMIN}"})
            assert me.status_code == 200 and me.json()["role"] == "admin"
            bot = client.get("/api/v1/me", headers={"Authorization": f"Bearer {COLLECTOR}"})
            assert bot.status_code == 200 and bot.json()["role"] == "operator"
            denied = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {COLLECTOR}"})
            assert denied.status_code == 403
            tokens = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {ADMIN}"})
            assert len(tokens.json()) == 2


def test_a_short_bootstrap_token_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=sqlite_url, config_file=tmp_path / "none.toml", bootstrap_admin_token="short"
    )
    with pytest.raises(ValueError, match="at least 24"), TestClient(create_app(settings)):
        pass
