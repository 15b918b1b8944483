"""Find the pieces of the nvidia-pytriton wheel and arrange them the way tritonserver expects."""

import importlib.util
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


def wheel_package_dir() -> Path:
    """Where the ``pytriton`` package is installed, found without importing it: its client costs 0.6 s to import."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nvidia-pytriton is not installed (the local-server extra: make setup)")
    return Path(spec.submodule_search_locations[0])


@dataclass(frozen=True)
class TritonInstallation:
    """Paths inside the installed wheel."""

    root: Path

    @classmethod
    def from_wheel(cls) -> "TritonInstallation":
        return cls(root=wheel_package_dir() / "tritonserver")

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def shared_libraries(self) -> Path:
        # auditwheel puts the libraries the binary links against beside the package.
        return self.root.parent.parent / "nvidia_pytriton.libs"

    @property
    def python_backend_stub(self) -> Path:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / "python_backend_stubs" / version / "triton_python_backend_stub"

    def assemble_backend_directory(self, target: Path) -> Path:
        """Lay out ``target/python/`` with the Python backend and the stub for this interpreter.

        The wheel keeps one stub per Python version apart from the backend; tritonserver looks for
        all three files together in ``<backend-directory>/python/``.
        """
        python_dir = target / "python"
        python_dir.mkdir(parents=True, exist_ok=True)
        backend = self.root / "backends" / "python"
        for source in (
            backend / "libtriton_python.so",
            backend / "triton_python_backend_utils.py",
            self.python_backend_stub,
        ):
            if not source.exists():
                raise FileNotFoundError(f"{source} is missing from the nvidia-pytriton wheel")
            # Copy then rename: a stub of an earlier run may still be executing the old file
            # ("text file busy"), but replacing its directory entry is always allowed.
            staged = python_dir / f".{source.name}.tmp"
            shutil.copy2(source, staged)
            staged.replace(python_dir / source.name)
        return target

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """The environment tritonserver and the Python backend stub need.

        The stub embeds this interpreter, so its ``libpython`` (sysconfig LIBDIR) comes first, and
        this environment's ``bin`` leads ``PATH`` so the stub imports numpy and onnxruntime from it.
        """
        environment = dict(base)
        library_path = [sysconfig.get_config_var("LIBDIR"), str(self.shared_libraries)]
        if base.get("LD_LIBRARY_PATH"):
            library_path.append(base["LD_LIBRARY_PATH"])
        environment["LD_LIBRARY_PATH"] = ":".join(library_path)
        environment["PATH"] = f"{Path(sys.executable).parent}:{base.get('PATH', '')}"
        return environment
