"""The two image recipes, read with BuildKit's own parser (the `dockerfile` package wraps it).

Each stage's instruction sequence is pinned, so a stray line continuation that swallows the next
instruction into a RUN (which Docker does across a blank line) fails here rather than at build time.
hadolint lints both files. No Docker daemon is needed: `make deploy` builds the images for real.
"""

import fnmatch
import json
import shlex
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest
import yaml
from eks_support import EKS_DIR, REPO_ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.fast

DOCKER_DIR = EKS_DIR / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("*.Dockerfile"))
HADOLINT_CONFIG = DOCKER_DIR / "hadolint.yaml"
HADOLINT = Path(sys.executable).parent / "hadolint"
COMPILERS = {"gcc", "g++", "build-essential", "clang", "make", "cargo", "rustc"}
# The instructions BuildKit knows; one of them inside a RUN's shell text means a line was joined.
INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
GATEWAY_UID = "10001"

# Each stage, as the parser sees it, instruction by instruction.
EXPECTED_STAGES = {
    "gateway.Dockerfile": {
        "builder": ["FROM", "ENV", "RUN", "COPY", "RUN"],
        "runtime": [
            "FROM",
            *["ARG"] * 2,
            "LABEL",
            "RUN",  # the system user, and nothing else
            *["COPY"] * 4,  # venv from the builder, contract, gateway, the model folder (every version)
            "ENV",
            "WORKDIR",
            "USER",
            "EXPOSE",
            "HEALTHCHECK",
            "ENTRYPOINT",
        ],
    },
}


def parse(path: Path) -> tuple[list[dockerfile.Command], list[list[dockerfile.Command]]]:
    """Global ARGs before the first FROM, and the instructions of each stage."""
    commands = dockerfile.parse_file(str(path))
    global_args: list[dockerfile.Command] = []
    stages: list[list[dockerfile.Command]] = []
    for command in commands:
        if command.cmd == "FROM":
            stages.append([])
        (stages[-1] if stages else global_args).append(command)
    return global_args, stages


def stage_name(stage: list[dockerfile.Command]) -> str:
    value = stage[0].value
    return value[2] if len(value) == 3 and value[1].upper() == "AS" else ""


def arg_defaults(path: Path) -> dict[str, str]:
    defaults = {}
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "ARG":
            name, _, default = command.value[0].partition("=")
            if default:
                defaults[name] = default
    return defaults


def expand(value: str, args: dict[str, str]) -> str:
    for name, default in args.items():
        value = value.replace("${" + name + "}", default)
    return value


def only(stage: list[dockerfile.Command], cmd: str) -> dockerfile.Command:
    (command,) = [c for c in stage if c.cmd == cmd]
    return command


def env_of(stage: list[dockerfile.Command]) -> dict[str, str]:
    env = {}
    for command in stage:
        if command.cmd == "ENV":
            env.update(zip(command.value[::2], command.value[1::2], strict=True))
    return env


def copy_sources(stage: list[dockerfile.Command], args: dict[str, str]) -> list[str]:
    """Context paths a stage copies (COPY --from copies from another stage, not the context)."""
    return [
        expand(source, args)
        for command in stage
        if command.cmd == "COPY" and not any(flag.startswith("--from=") for flag in command.flags)
        for source in command.value[:-1]
    ]


def shell_words(run: dockerfile.Command) -> list[str]:
    return [word for line in run.value for word in shlex.split(line, comments=True)]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_each_stage_has_the_expected_instruction_sequence(path: Path) -> None:
    _, stages = parse(path)
    actual = {stage_name(stage): [c.cmd for c in stage] for stage in stages}
    assert actual == EXPECTED_STAGES[path.name]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_no_run_swallows_another_instruction(path: Path) -> None:
    runs = [c for c in dockerfile.parse_file(str(path)) if c.cmd == "RUN"]
    for run in runs:
        swallowed = INSTRUCTIONS & set(shell_words(run))
        assert not swallowed, f"{path.name}:{run.start_line}: RUN holds {swallowed}: {run.original}"


def test_the_parser_catches_a_continuation_across_a_blank_line(tmp_path: Path) -> None:
    """The bug of issue 11, kept as a fixture: the blank line does not end the RUN."""
    broken = tmp_path / "broken.Dockerfile"
    broken.write_text("FROM scratch AS a\nFROM scratch\nRUN useradd gateway \\\n\nCOPY --from=a /x /x\n")
    (run,) = [c for c in dockerfile.parse_file(str(broken)) if c.cmd == "RUN"]
    assert "COPY" in shell_words(run)


def test_hadolint_is_clean_and_every_ignore_has_a_reason() -> None:
    config = yaml.safe_load(HADOLINT_CONFIG.read_text())
    assert config["failure-threshold"] == "style", "every finding counts"
    ignore_lines = [line for line in HADOLINT_CONFIG.read_text().splitlines() if line.strip().startswith("- DL")]
    assert len(ignore_lines) == len(config.get("ignored") or [])
    for line in ignore_lines:
        assert "#" in line and line.split("#", 1)[1].strip(), f"ignore without a reason: {line}"
    result = subprocess.run(
        [str(HADOLINT), "--config", str(HADOLINT_CONFIG), "--format", "json", *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_gateway_image_is_multi_stage_slim_and_serves_as_uid_10001() -> None:
    path = DOCKER_DIR / "gateway.Dockerfile"
    global_args, (builder, runtime) = parse(path)
    base = only(global_args, "ARG").value[0].partition("=")[2]
    name, _, tag = base.partition(":")
    assert name == "python"
    version, _, variant = tag.partition("-")
    assert version.startswith("3.11.") and version.count(".") == 2, "a pinned patch release"
    assert variant.startswith("slim-"), "the slim Debian base"
    assert builder[0].value == ("${PYTHON_IMAGE}", "AS", "builder")
    assert runtime[0].value == ("${PYTHON_IMAGE}", "AS", "runtime")

    (venv_copy,) = [c for c in runtime if c.cmd == "COPY" and "--from=builder" in c.flags]
    assert venv_copy.value == ("/opt/venv", "/opt/venv")
    runtime_words = {w for c in runtime if c.cmd == "RUN" for w in shell_words(c)}
    assert not COMPILERS & runtime_words, "no compilers in the final image"
    assert "apt-get" not in runtime_words
    (pip_install,) = [c for c in builder if c.cmd == "RUN" and "install" in shell_words(c)]
    assert "--only-binary=:all:" in shell_words(pip_install), "wheels only: the builder needs no compiler"

    # The system user the RUN creates is the uid USER switches to, which the Deployment enforces too.
    user_words = shell_words(only(runtime, "RUN"))
    assert user_words[user_words.index("--uid") + 1] == GATEWAY_UID
    assert only(runtime, "USER").value == (f"{GATEWAY_UID}:{GATEWAY_UID}",)
    assert only(runtime, "ENTRYPOINT").json and only(runtime, "ENTRYPOINT").value == ("python", "-m", "gateway")


def test_gateway_requirements_are_the_tested_pins() -> None:
    """The image installs exactly what the venv is tested with (constraints.txt)."""
    constraints = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            constraints[canonicalize_name(name)] = version
    requirements = [
        line.split("#")[0].strip()
        for line in (DOCKER_DIR / "gateway-requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert requirements
    for requirement in requirements:
        parsed = Requirement(requirement)
        assert str(parsed.specifier) == f"=={constraints[canonicalize_name(parsed.name)]}", requirement


def test_gateway_image_carries_tokenizer_and_metadata_of_every_version() -> None:
    """Any exported version can be named champion or challenger in the rollout ConfigMap (issue 19) without a
    new image: the model folder is copied whole, and the build context lets only the gateway's files into it."""
    path = DOCKER_DIR / "gateway.Dockerfile"
    args = arg_defaults(path)
    assert {"MODEL_REPOSITORY", "MODEL_NAME"} <= set(args)
    _, stages = parse(path)
    model_dir = f"{args['MODEL_REPOSITORY']}/{args['MODEL_NAME']}/"
    assert model_dir in copy_sources(stages[-1], args)
    ignore = DOCKER_DIR / "gateway.Dockerfile.dockerignore"
    for version in ("1", "2", "17"):
        for wanted in ("serving_metadata.json", "reference_profile.json", "tokenizer/tokenizer.json"):
            assert included_by_dockerignore(ignore, f"{model_dir}{version}/{wanted}"), wanted
        for heavy in ("model.onnx", "model.int8.onnx", "model.py"):
            assert not included_by_dockerignore(ignore, f"{model_dir}{version}/{heavy}"), heavy
    env = env_of(stages[-1])
    assert env["GATEWAY_MODEL_REPOSITORY"] == "/srv/model_repository"
    assert env["GATEWAY_HOST"] == "0.0.0.0"
    assert env["GATEWAY_PORT"] == "8080"


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


def probe_path(source: str) -> str:
    """A file a COPY source stands for: "file.jso[n]" (the optional-file idiom) names file.json."""
    plain = source.replace("[", "").replace("]", "")
    return plain.rstrip("/").replace("*", "") + ("/tokenizer.json" if source.endswith("/") else "")


def test_build_context_sends_what_is_copied_and_not_the_rest() -> None:
    path = DOCKER_DIR / "gateway.Dockerfile"
    ignore = DOCKER_DIR / "gateway.Dockerfile.dockerignore"
    _, stages = parse(path)
    args = arg_defaults(path)
    model_dir = f"{args['MODEL_REPOSITORY']}/{args['MODEL_NAME']}/"  # what of it arrives: the test above
    sources = [s for stage in stages for s in copy_sources(stage, args) if s != model_dir]
    assert sources
    for source in sources:
        assert included_by_dockerignore(ignore, probe_path(source)), f"{source} is ignored but copied"
    for heavy in (".venv/lib/x.py", ".git/HEAD", "tests/test_x.py", "model_repository/sentiment/1/model.onnx"):
        assert not included_by_dockerignore(ignore, heavy), f"{heavy} is sent to the daemon"
