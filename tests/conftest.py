"""The two test tiers, and the session fixtures: a model repository exported for real, a real tritonserver.

Every test module says its tier in one line, ``pytestmark = pytest.mark.fast`` or ``pytest.mark.slow``:

- ``fast`` (``make test-fast``): needs no Triton, no gateway process, no torch and no ``../shared``;
- ``slow``: everything else, and the two external tools that take seconds each (checkov from its own venv,
  pip resolving the image's wheels against the registry); ``make test`` runs both.

Collection fails on a module that says neither. With ``-m fast`` the slow modules are not even imported, and
the run stops if collecting the fast tier imported torch, transformers, optimum or onnxruntime anyway.

Two models are exported once per session, and only when a selected test asks for them: a tiny random
DistilBERT under the committed configs' name (fast; proves the plumbing and that the committed configs fit an
export) and the real SST-2 stand-in (proves labels come out right).
"""

import ast
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from localtriton.server import TritonServer
from support import (
    COMMITTED_REPOSITORY,
    DEFAULT_MODEL_FILES,
    REAL_MODEL_NAME,
    SST2_DEV,
    STAND_IN_MODEL,
    STRICT_CONFIG,
    TINY_MODEL_NAME,
    RedisProcess,
    RunningTriton,
    require_shared,
    start_redis,
    start_triton,
)

TIERS = ("fast", "slow")
FAST = "fast"
HEAVY_MODULES = ("torch", "transformers", "optimum", "onnxruntime")


def module_tier(path: Path) -> str | None:
    """The tier a test module's ``pytestmark = pytest.mark.<tier>`` names, read without importing the module."""
    for statement in ast.parse(path.read_bytes(), filename=str(path)).body:
        if isinstance(statement, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in statement.targets
        ):
            marks = statement.value.elts if isinstance(statement.value, ast.List | ast.Tuple) else [statement.value]
            names = {mark.attr for mark in marks if isinstance(mark, ast.Attribute)}
            return next((tier for tier in TIERS if tier in names), None)
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under ``-m fast``, a module of the other tier is not imported at all: importing it is what costs."""
    is_test_module = collection_path.suffix == ".py" and collection_path.name.startswith("test_")
    if config.option.markexpr == FAST and is_test_module and module_tier(collection_path) != FAST:
        return True
    return None


def item_tiers(item: pytest.Item) -> set[str]:
    return set(TIERS) & {mark.name for mark in item.iter_markers()}


@pytest.hookimpl(tryfirst=True)  # before -m deselects: an unmarked module fails whichever tier is asked for
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    untiered = sorted({str(item.path.relative_to(config.rootpath)) for item in items if len(item_tiers(item)) != 1})
    if untiered:
        raise pytest.UsageError(
            "every test module names exactly one tier (pytestmark = pytest.mark.fast or pytest.mark.slow; see "
            "tests/conftest.py); these do not: " + ", ".join(untiered)
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.items and all(item.get_closest_marker(FAST) for item in session.items):
        heavy = [name for name in HEAVY_MODULES if name in sys.modules]
        if heavy:
            raise pytest.UsageError(
                f"collecting the fast tier imported {', '.join(heavy)}: import it inside the test or fixture "
                "that needs it, or mark the module slow"
            )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_shared(DEFAULT_MODEL_FILES)
    from export.random_checkpoint import build_random_checkpoint  # torch: only for the tests that export

    return build_random_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"), DEFAULT_MODEL_FILES)


@pytest.fixture(scope="session")
def model_repository(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    require_shared(STAND_IN_MODEL, SST2_DEV)
    from export.pipeline import ExportRequest, run_export  # torch and optimum: only for the tests that export

    repository = tmp_path_factory.mktemp("model_repository")
    # Start from the committed configs: the export must accept them as they are.
    shutil.copytree(
        COMMITTED_REPOSITORY / TINY_MODEL_NAME,
        repository / TINY_MODEL_NAME,
        ignore=shutil.ignore_patterns("[0-9]*", "labels.txt"),  # a local `make export` may have left these
    )
    run_export(ExportRequest(model=str(tiny_checkpoint), name=TINY_MODEL_NAME, repository=repository))
    run_export(
        ExportRequest(model=str(STAND_IN_MODEL), name=REAL_MODEL_NAME, repository=repository, reference_data=SST2_DEV)
    )
    return repository


@pytest.fixture(scope="session")
def triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    server = start_triton(model_repository, tmp_path_factory.mktemp("triton"))
    try:
        yield RunningTriton(server=server, repository=model_repository)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def strict_triton(model_repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTriton]:
    """Triton on the same models serving ``configs/cpu-strict.pbtxt``: one shape per batch, as on a GPU."""
    server = start_triton(model_repository, tmp_path_factory.mktemp("strict-triton"), model_config_name=STRICT_CONFIG)
    try:
        yield RunningTriton(server=server, repository=model_repository)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_triton(model_repository: Path, tmp_path: Path) -> Iterator[TritonServer]:
    """A Triton on the test models that this test may stop, kill and restart without disturbing the others."""
    server = start_triton(model_repository, tmp_path / "triton")
    yield server
    server.stop()
