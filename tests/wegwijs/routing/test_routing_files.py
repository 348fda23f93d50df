"""Every routing file of municipalities/routing/ loads; the schema rejects what it must."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from wegwijs.content.loader import load_registry
from wegwijs.routing import ROUTING_DIR, RoutingError, load_routing
from wegwijs.routing.schema import cbs_gemeenten, gemeente_slug


def test_every_routing_file_loads() -> None:
    files = sorted(p.name for p in ROUTING_DIR.glob("*.yml"))
    table = load_routing()
    assert "_default.yml" in files
    assert len(table.gemeenten) == len(files) - 1
    assert table.default.queue_key == "default"
    registry = load_registry()
    for routing, member in table.staff():
        assert set(member.languages) <= set(registry.supported) | set(registry.in_progress)
        assert member.email is None or member.email.endswith("@example.org")  # example data only
    for name in table.gemeenten:
        assert name in cbs_gemeenten()


def test_the_example_has_a_tigrinya_speaking_sleutelpersoon() -> None:
    table = load_routing()
    assert any(m.role == "sleutelpersoon" and "ti" in m.languages for _, m in table.staff())


@pytest.mark.parametrize("name, slug", [
    ("Utrecht", "utrecht"), ("'s-Hertogenbosch", "s-hertogenbosch"),
    ("Súdwest-Fryslân", "sudwest-fryslan"), ("Bergen (NH.)", "bergen-nh"),
])
def test_gemeente_slug(name: str, slug: str) -> None:
    assert gemeente_slug(name) == slug


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "routing"
    shutil.copytree(ROUTING_DIR, target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(colour="blue"), "extra fields not permitted"),
    (lambda d: d["staff"][0].update(nickname="x"), "extra fields not permitted"),
    (lambda d: d["staff"][0].update(languages=["tigrinya"]), "unknown language code 'tigrinya'"),
    (lambda d: d["staff"][0].update(languages=["de"]), "unknown language code 'de'"),
    (lambda d: d["staff"][0].update(working_hours={"mon": "9-17"}), 'is not like "09:00-17:00"'),
    (lambda d: d["staff"][0].update(working_hours={"monday": "09:00-17:00"}), "is not one of"),
    (lambda d: d["staff"][0].update(working_hours={"mon": "17:00-09:00"}), "ends before it starts"),
    (lambda d: d["staff"][0].update(role="coach"), "unexpected value"),
    (lambda d: d["staff"][1].update(key=d["staff"][0]["key"]), "staff keys used twice"),
    (lambda d: d["notifications"].update(email=None), "notifications need 'email' and/or 'webhook'"),
    (lambda d: d["notifications"]["email"].update(password_env="geheim123"), "string does not match regex"),
    (lambda d: d["notifications"]["email"].update(password="geheim"), "extra fields not permitted"),
    (lambda d: d.update(response_days=0), "ensure this value is greater than or equal to 1"),
    (lambda d: d["queue"].update(email="not an address"), "not an e-mail address"),
])
def test_schema_rejects(tmp_path: Path, change, message: str) -> None:
    folder = _copy(tmp_path)
    _edit(folder / "utrecht.yml", change)
    with pytest.raises(RoutingError) as error:
        load_routing(folder)
    assert "utrecht.yml" in str(error.value) and message in str(error.value)


def test_gemeente_must_be_a_cbs_gemeente(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "utrecht.yml").rename(folder / "utreg.yml")
    _edit(folder / "utreg.yml", lambda d: d.update(gemeente="Utreg"))
    with pytest.raises(RoutingError, match="'Utreg' is not a CBS gemeente name"):
        load_routing(folder)


def test_file_name_must_be_the_slug(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "utrecht.yml").rename(folder / "stad-utrecht.yml")
    with pytest.raises(RoutingError, match="belongs in utrecht.yml"):
        load_routing(folder)


def test_default_queue_is_required(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "_default.yml").unlink()
    with pytest.raises(RoutingError, match="national/default queue"):
        load_routing(folder)


def test_staff_keys_are_unique_over_all_files(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    key = yaml.safe_load((folder / "utrecht.yml").read_text(encoding="utf-8"))["staff"][0]["key"]
    _edit(folder / "zwolle.yml", lambda d: d["staff"][0].update(key=key))
    with pytest.raises(RoutingError, match=f"staff key {key} is used in"):
        load_routing(folder)
