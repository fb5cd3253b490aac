"""The [quality] section of linewatch.toml: the example applies next to the core's example,
a second start changes nothing, a changed rate re-costs, a typo names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config_file import apply_config
from service.quality import catalogue, cost_models
from service.quality.config import (
    QualityConfigError,
    apply_quality_config,
    apply_quality_file,
)
from service.quality.recording import Recorder
from service.settings import Settings
from service.storage import open_store

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "linewatch.toml"
    path.write_text(
        (DEPLOY / "linewatch.example.toml").read_text(encoding="utf-8")
        + "\n"
        + (DEPLOY / "quality.example.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return path


def test_example_applies_then_is_stable_then_recosts(database_url: str, config_file: Path) -> None:
    store = open_store(Settings(database_url=database_url, config_file=None))
    try:
        apply_config(store, config_file)  # the core part: plant1, line1, line1.op20, ...
        first = apply_quality_file(store, config_file)
        assert "disposition:sort" in first.created
        assert {"defect_code:DIM-001", "defect_code:MAT-001"} <= set(first.created)
        assert "cost_model:plant1@2026-01-01" in first.created
        with store.transaction(readonly=True) as tx:
            [model] = cost_models.list_models(tx, site="plant1")
            sort = catalogue.get_disposition(tx, "sort")
        assert (model["currency"], model["labour_rate"]) == ("EUR", 48.0)
        p100 = next(p for p in model["products"] if p["product"] == "P-100")
        assert p100["stations"] == {"line1.op20": 18.5}
        assert sort["basis"] == "rework"

        again = apply_quality_file(store, config_file)
        assert (again.created, again.updated) == ([], [])

        answer = Recorder(store).record_defects(
            [
                {
                    "ts": "2026-02-02T10:00:00Z",
                    "line": "line1",
                    "station": "line1.op20",
                    "product": "P-100",
                    "defect_code": "DIM-001",
                    "disposition": "scrap",
                    "quantity": 2,
                }
            ],
            "test",
        )
        assert answer.accepted == 1
        with store.transaction(readonly=True) as tx:
            assert tx.scalar("SELECT cost FROM quality_defects") == 2 * 18.5
        config_file.write_text(
            config_file.read_text(encoding="utf-8").replace(
                'stations = { "line1.op20" = 18.5 }', 'stations = { "line1.op20" = 20.0 }'
            ),
            encoding="utf-8",
        )
        changed = apply_quality_file(store, config_file)
        assert changed.updated == ["cost_model:plant1@2026-01-01"]
        with store.transaction(readonly=True) as tx:
            assert tx.scalar("SELECT cost FROM quality_defects") == 2 * 20.0
            assert tx.scalar("SELECT cost FROM quality_daily_line") == 2 * 20.0
    finally:
        store.close()


def test_invalid_sections_name_the_field_and_apply_nothing(database_url: str) -> None:
    store = open_store(Settings(database_url=database_url, config_file=None))
    try:
        cases = {
            "quality.defect_code.0.category": {
                "defect_code": [{"code": "A", "name": "a", "category": "Not OK"}]
            },
            "quality.colour": {"colour": "red"},
            "quality.disposition.0.basis": {
                "disposition": [{"key": "x", "name": "x", "basis": "burn"}]
            },
        }
        for where, section in cases.items():
            with pytest.raises(QualityConfigError, match=where.replace(".", r"\.")):
                apply_quality_config(store, section)
        with pytest.raises(QualityConfigError, match="unknown site 'nowhere'"):
            apply_quality_config(
                store,
                {
                    "defect_code": [{"code": "OK-1", "name": "ok", "category": "surface"}],
                    "cost_model": [
                        {
                            "site": "nowhere",
                            "valid_from": "2026-01-01",
                            "currency": "EUR",
                            "labour_rate": 1.0,
                        }
                    ],
                },
            )
        with store.transaction(readonly=True) as tx:
            assert catalogue.list_codes(tx) == []  # the valid code was rolled back too
    finally:
        store.close()
