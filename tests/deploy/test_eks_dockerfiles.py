"""The two image recipes: pinned bases, non-root, no compilers, and build contexts that hold what they copy.

No Docker daemon is needed: the Dockerfiles are read as text. `make deploy` builds them for real.
"""

import fnmatch
import re
from pathlib import Path

from eks_support import EKS_DIR

DOCKER_DIR = EKS_DIR / "docker"
COMPILERS = ("gcc", "g++", "build-essential", "clang", "make ", "cargo", "rustc")


def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per build stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    result: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile.read_text(), flags=re.MULTILINE))


def expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], value)


def included_by_dockerignore(ignore_file: Path, path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    included = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in ignore_file.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        glob = pattern.replace("**/", "*")
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
            included = negate
    return included


def copy_sources(stage: list[str], args: dict[str, str]) -> list[str]:
    sources = []
    for line in stage:
        if line.upper().startswith("COPY ") and "--from=" not in line:
            *srcs, _dest = line.split()[1:]
            sources += [expand(s, args) for s in srcs if not s.startswith("--")]
    return sources


def test_gateway_image_is_multi_stage_slim_and_non_root() -> None:
    dockerfile = DOCKER_DIR / "gateway.Dockerfile"
    args = arg_defaults(dockerfile)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", args["PYTHON_IMAGE"]), "pinned slim Python base"
    builder, runtime = stages(dockerfile)
    assert builder[0].endswith(" AS builder")
    runtime_text = "\n".join(runtime)
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime_text
    assert not any(compiler in runtime_text for compiler in COMPILERS), "no compilers in the final image"
    assert "apt-get install" not in runtime_text
    (user,) = [line for line in runtime if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert "--only-binary=:all:" in "\n".join(builder), "wheels only: the builder needs no compiler either"


def test_gateway_image_carries_tokenizer_and_metadata_of_the_chosen_version() -> None:
    dockerfile = DOCKER_DIR / "gateway.Dockerfile"
    args = arg_defaults(dockerfile)
    assert {"MODEL_REPOSITORY", "MODEL_NAME", "MODEL_VERSION"} <= set(args)
    sources = copy_sources(stages(dockerfile)[-1], args)
    version_dir = f"{args['MODEL_REPOSITORY']}/{args['MODEL_NAME']}/{args['MODEL_VERSION']}"
    assert f"{version_dir}/serving_metadata.json" in sources
    assert f"{version_dir}/tokenizer/" in sources
    env = " ".join(line for line in stages(dockerfile)[-1] if line.startswith("ENV "))
    assert "GATEWAY_MODEL_REPOSITORY=/srv/model_repository" in env
    assert "GATEWAY_HOST=0.0.0.0" in env
    assert "GATEWAY_PORT=8080" in env


def test_triton_image_is_the_official_release_with_the_gpu_config() -> None:
    dockerfile = DOCKER_DIR / "triton.Dockerfile"
    (stage,) = stages(dockerfile)
    assert stage[0] == "FROM nvcr.io/nvidia/tritonserver:24.10-py3"
    sources = copy_sources(stage, arg_defaults(dockerfile))
    assert "model_repository/sentiment/config.pbtxt" in sources
    assert "model_repository/sentiment/1/model.onnx*" in sources
    assert not any("configs/" in s or "model.py" in s for s in sources), "the GPU config only"
    (user,) = [line for line in stage if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}


def test_build_contexts_send_what_is_copied_and_not_the_rest() -> None:
    for name in ("gateway", "triton"):
        dockerfile = DOCKER_DIR / f"{name}.Dockerfile"
        ignore = DOCKER_DIR / f"{name}.Dockerfile.dockerignore"
        sources = [s for stage in stages(dockerfile) for s in copy_sources(stage, arg_defaults(dockerfile))]
        assert sources
        for source in sources:
            # "file.jso[n]" is the optional-file idiom: probe the file it names.
            plain = re.sub(r"\[(.)\]", r"\1", source)
            probe = plain.rstrip("/").replace("*", "") + ("/tokenizer.json" if source.endswith("/") else "")
            assert included_by_dockerignore(ignore, probe), f"{name}: {probe} is ignored but copied"
        for heavy in (".venv/lib/x.py", ".git/HEAD", "tests/test_x.py"):
            assert not included_by_dockerignore(ignore, heavy), f"{name}: {heavy} is sent to the daemon"
    gateway_ignore = DOCKER_DIR / "gateway.Dockerfile.dockerignore"
    assert not included_by_dockerignore(gateway_ignore, "model_repository/sentiment/1/model.onnx")
