"""Session fixtures: every deploy variant rendered once (see eks_support for how and with which tools)."""

from types import ModuleType

import pytest
from eks_support import EKS_DIR, VARIANTS, Rendered, kustomize, load_validator, run_deploy_script


@pytest.fixture(scope="session")
def validator() -> ModuleType:
    return load_validator()


@pytest.fixture(scope="session")
def rendered_variants(tmp_path_factory: pytest.TempPathFactory, validator: ModuleType) -> dict[str, Rendered]:
    rendered_dir = tmp_path_factory.mktemp("rendered")
    out = {}
    for variant in VARIANTS:
        path = rendered_dir / f"{variant.name}.yaml"
        if variant.via_deploy_script:
            work = tmp_path_factory.mktemp(variant.name)
            result, calls = run_deploy_script(
                {"DRY_RUN": "1", "RENDER_DIR": str(work / "render"), **variant.deploy_env()}, work
            )
            output = result.stdout + result.stderr
            if result.returncode != 0:
                pytest.fail(f"deploy.sh dry run for {variant.name} failed ({result.returncode}):\n{output}")
            path.write_text((work / "render" / "manifests.yaml").read_text())
        else:
            path.write_text(kustomize(EKS_DIR / "overlays" / variant.overlay))
            output, calls = "", []
        out[variant.name] = Rendered(variant, path, validator.load_documents(path.read_text()), output, calls)
    return out


@pytest.fixture(params=[v.name for v in VARIANTS])
def rendered(request: pytest.FixtureRequest, rendered_variants: dict[str, Rendered]) -> Rendered:
    return rendered_variants[request.param]
