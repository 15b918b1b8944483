"""release.py's data work, called directly, without AWS, git answers aside: settings checks, the model digest,
the release kustomization."""

import pytest
import yaml
from eks_support import TLS_CERT_ARN, VPC_CIDR, fake_model_repository, release

pytestmark = pytest.mark.fast


def settings(command: str = "deploy", **environ: str) -> dict[str, str]:
    return release.read_settings({"AWS_REGION": "eu-west-1", "MODEL_S3_URI": "s3://models-b/r", **environ}, command)


def test_every_setting_is_declared_once_with_a_default_that_passes_its_own_check() -> None:
    names = [s.name for s in release.SETTINGS]
    assert len(names) == len(set(names))
    assert settings()["OVERLAY"] == "staging"


def test_the_tag_checks_no_deploy_setting() -> None:
    """deploy.yml names the release before production's TLS, keys and bucket exist (issue 18, blocker 2)."""
    values = release.read_settings({"OVERLAY": "production"}, "tag")
    assert values["TLS_CERT_ARN"] == values["MODEL_S3_URI"] == ""
    with pytest.raises(release.SettingsError, match="production needs TLS and API keys"):
        release.read_settings(
            {"OVERLAY": "production", "AWS_REGION": "eu-west-1", "MODEL_S3_URI": "s3://models-b/r"}, "deploy"
        )


def test_a_dry_run_fills_in_only_what_a_real_run_asks_aws() -> None:
    dry = release.read_settings({"DRY_RUN": "1"}, "deploy")
    assert (dry["AWS_REGION"], dry["AWS_ACCOUNT_ID"], dry["VPC_CIDR"]) == ("us-east-1", "123456789012", "")
    assert release.read_settings({"DRY_RUN": "1", "EXPOSURE": "alb"}, "deploy")["VPC_CIDR"] == "10.0.0.0/16"
    with pytest.raises(release.SettingsError, match="MODEL_S3_URI is not set"):
        release.read_settings({"AWS_REGION": "eu-west-1"}, "deploy")


def test_the_model_digest_covers_what_ships_and_nothing_else(tmp_path) -> None:
    repository = fake_model_repository(tmp_path)
    before = release.model_digest(repository)
    (repository / "sentiment" / "configs").mkdir()
    (repository / "sentiment" / "configs" / "cpu.pbtxt").write_text("cpu")
    assert release.model_digest(repository) == before
    (repository / "sentiment" / "1" / "tokenizer" / "tokenizer.json").rename(
        repository / "sentiment" / "1" / "tokenizer" / "vocab.json"
    )
    assert release.model_digest(repository) != before, "a renamed file is a different model"
    release.check_model(repository, f"git-x-model-{release.model_digest(repository)}")
    with pytest.raises(release.SettingsError, match="names"):
        release.check_model(repository, f"git-x-model-{before}")


@pytest.mark.parametrize("exposure", ["nlb", "alb"])
def test_the_kustomization_chooses_components_and_trusted_proxies(tmp_path, exposure: str) -> None:
    values = settings(
        EXPOSURE=exposure,
        TRITON_AUTOSCALER="prometheus-adapter",
        TLS_CERT_ARN=TLS_CERT_ARN,
        VPC_CIDR=VPC_CIDR,
        AWS_ACCOUNT_ID="210987654321",
        IMAGE_TAG="t1",
    )
    release.write_kustomization(values, tmp_path)
    top = yaml.safe_load((tmp_path / "kustomization.yaml").read_text())
    components = [c.rsplit("/", 1)[-1] for c in top["components"]]
    assert components == [
        *(["alb-ingress"] if exposure == "alb" else []),
        "triton-hpa-prometheus-adapter",
        "tls",
        "release",
    ]
    component = yaml.safe_load((tmp_path / "release" / "kustomization.yaml").read_text())
    gateway_config, triton_config = component["configMapGenerator"]
    trusted = VPC_CIDR if exposure == "alb" else "127.0.0.1"
    assert gateway_config["literals"] == [f"GATEWAY_FORWARDED_ALLOW_IPS={trusted}"]
    assert "MODEL_REPOSITORY=s3://models-b/r/staging/t1" in triton_config["literals"]
