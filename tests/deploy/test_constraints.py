"""constraints.txt resolves on any index: every pin is a public version (PyPI never hosts local versions such as
2.13.0+cpu), and a public ==2.13.0 pin is satisfied by the CPU build that PyTorch's CPU index serves (and that
this venv holds), so `make setup` keeps torch's CPU build on a GitHub runner as here."""

from importlib.metadata import version

import pytest
from eks_support import REPO_ROOT
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.fast


def pins() -> dict[str, Requirement]:
    lines = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name.lower(): r for r in requirements}


def test_every_pin_is_one_public_version() -> None:
    for name, requirement in pins().items():
        (spec,) = requirement.specifier
        assert spec.operator == "==", name
        assert Version(spec.version).local is None, f"{name}{spec}: a local version no public index hosts"


def test_the_public_torch_pin_accepts_the_cpu_build_and_not_the_reverse() -> None:
    installed = Version(version("torch"))
    assert installed.local == "cpu", "make setup installs the CPU build"
    public = pins()["torch"].specifier
    assert public.contains(installed), "==2.13.0 matches 2.13.0+cpu"
    local_pin = Requirement(f"torch=={installed}").specifier
    assert not local_pin.contains(installed.public), "==2.13.0+cpu never matches what PyPI serves"
