"""Fixtures for the custom Rasa components: a tiny fastText model, graph plumbing."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from wegwijs.lid.train import train_small


@pytest.fixture(scope="session")
def tiny_lid_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small fastText LID model (nl, en, ar, ti, am) trained on repo FLORES text, ≈1 s."""
    return train_small(tmp_path_factory.mktemp("lid") / "tiny.bin")


@pytest.fixture
def model_storage(tmp_path: Path) -> LocalModelStorage:
    """An empty local model storage in the test's temp folder."""
    storage = tmp_path / "storage"
    storage.mkdir()
    return LocalModelStorage(storage)


@pytest.fixture
def execution_context() -> ExecutionContext:
    """A minimal execution context (empty graph schema)."""
    return ExecutionContext(GraphSchema({}), "test-model")


@pytest.fixture
def resource() -> Resource:
    """The resource name a component gets in the graph."""
    return Resource("FastTextLanguageIdentifier0")
