"""The Helm chart, rendered offline by the Helm v4 SDK (helm-python-sdk binds libhelm_c, so no
helm binary and no cluster), linted, and its core manifests checked by kubernetes-validate against
the Kubernetes 1.30 schemas. CRDs (ServiceMonitor, ScaledObject) have no schema there and are
checked structurally."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from helm_python import HelmError, HelmValuesError
from pydantic import TypeAdapter

from agenther.config import RULE_STRATEGIES, PipelineConfig
from streams.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "agenther"
KUBE_VERSION = "1.30.0"
RELEASE = "rel"
NAMESPACE = "data"

CORE_KINDS = {"ConfigMap", "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"}
CRD_API_VERSIONS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "ScaledObject": "keda.sh/v1alpha1",
}

# Settings the chart sets itself, so that ports, probes and volumes always agree with the file.
CHART_MANAGED = {"metrics_host", "metrics_port"}
CHART_MANAGED_PIPELINE = {"cache_dir"}
# A pod always has a cluster to join: the embedded broker is for a laptop.
NOT_FOR_A_POD = {"embedded_broker_port"}
# Secrets come from Secret references (env), never from values.
SECRETS = {"sasl_password"}
SECRET_PIPELINE = {"api_key", "judge_api_key"}
# The service writes to topics and picks the format with the top-level output_format; the batch
# CLI's output directory and the pipeline's own format copy have no meaning in a pod.
NOT_FOR_THE_SERVICE_PIPELINE = {"output_dir", "output_format"}

SASL: dict[str, Any] = {
    "config": {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "agenther",
        "schema_registry_url": "http://schema-registry:8081",
    },
    "kafka": {"sasl": {"existingSecret": "kafka-creds", "passwordKey": "password"}},
}
LLM_SECRETS = {
    "llm": {
        "existingSecret": "llm-key",
        "apiKeyKey": "openai",
        "judge": {"existingSecret": "judge-key", "apiKeyKey": "token"},
    }
}
EVERY_OPTION: dict[str, Any] = {
    **SASL,
    **LLM_SECRETS,
    "config": {
        **SASL["config"],
        "bootstrap_servers": "b-1.kafka:9096,b-2.kafka:9096",
        "topic_partitions": 12,
        "pipeline": {
            "model": "gpt-4o-mini",
            "base_url": "http://vllm:8000/v1",
            "judge_model": "Qwen2.5-72B-Instruct",
            "judge_base_url": "http://vllm-judge:8000/v1",
            "max_concurrency": 32,
        },
    },
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
    "imagePullSecrets": [{"name": "registry"}],
    "extraEnv": [{"name": "AGENTHER_LOG_LEVEL", "value": "DEBUG"}],
    "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "agenther"}},
        }
    ],
    "priorityClassName": "batch-high",
    "podAnnotations": {"example.com/team": "ml"},
}
WITH_HPA = {**EVERY_OPTION, "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}}
WITH_KEDA = {
    **EVERY_OPTION,
    "keda": {"enabled": True, "maxReplicaCount": 12, "lagThreshold": 50, "authenticationRef": "ka"},
}
VARIANTS = {"defaults": None, "every-option-hpa": WITH_HPA, "every-option-keda": WITH_KEDA}


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rendered file is loaded as ServiceSettings, where env would win over it.
    for name in list(os.environ):
        if name.startswith("AGENTHER_"):
            monkeypatch.delenv(name)


def _render(values: dict[str, Any] | None = None) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def _manifests(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    docs = []
    for name, text in _render(values).items():
        if name.endswith(".txt"):
            continue
        docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def _config_file(docs: list[dict[str, Any]]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_one(docs, "ConfigMap")["data"]["config.yaml"])
    return loaded


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = container
    return found


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_helm_lint_strict_is_clean(values: dict[str, Any] | None) -> None:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    # Severity 1 is "info" (only "icon is recommended"); warnings and errors are 2 and 3.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_core_manifests_pass_kubernetes_validate_strict(
    values: dict[str, Any] | None, tmp_path: Path
) -> None:
    docs = _manifests(values)
    core = [doc for doc in docs if doc["kind"] not in CRD_API_VERSIONS]
    assert {doc["kind"] for doc in core} >= CORE_KINDS
    manifest = tmp_path / "core.yaml"
    manifest.write_text(yaml.safe_dump_all(core))
    result = _kubernetes_validate(manifest)
    # A WARN means no schema was found: a misspelt apiVersion or an unexpected kind.
    assert result.returncode == 0 and "WARN" not in result.stdout, result.stdout


def _kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run(
        [str(cli), "-k", KUBE_VERSION, "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_kubernetes_validate_rejects_an_unknown_field(tmp_path: Path) -> None:
    # Guards the test above: strict validation must fail on what the API server would drop.
    deployment = copy.deepcopy(_one(_manifests(), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(deployment))
    assert _kubernetes_validate(manifest).returncode != 0


def test_default_render_has_exactly_the_core_kinds() -> None:
    assert {doc["kind"] for doc in _manifests()} == CORE_KINDS


def test_optional_kinds_appear_when_enabled() -> None:
    assert {"HorizontalPodAutoscaler", "ServiceMonitor"} <= {
        d["kind"] for d in _manifests(WITH_HPA)
    }
    keda_kinds = {d["kind"] for d in _manifests(WITH_KEDA)}
    assert {"ScaledObject", "ServiceMonitor"} <= keda_kinds
    assert "HorizontalPodAutoscaler" not in keda_kinds


def test_pod_is_locked_down() -> None:
    docs = _manifests()
    pod = _one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = _container(docs)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_pod_user_is_the_image_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    (user,) = [line.split()[1] for line in dockerfile if line.startswith("USER ")]
    uid, _, gid = user.partition(":")
    context = _one(_manifests(), "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))


def test_writable_paths_are_empty_dirs_and_the_cache_is_the_pipeline_cache() -> None:
    docs = _manifests()
    pod = _one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _container(docs)["volumeMounts"]}
    cache_dir = _config_file(docs)["pipeline"]["cache_dir"]
    for path in ("/tmp", cache_dir):
        assert "emptyDir" in volumes[mounts[path]], path


def test_probes_and_service_use_the_configured_metrics_port() -> None:
    docs = _manifests({"metrics": {"port": 9555}})
    container = _container(docs)
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("metrics", 9555)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert _config_file(docs)["metrics_port"] == 9555
    (service_port,) = _one(docs, "Service")["spec"]["ports"]
    assert service_port["targetPort"] == "metrics"


def test_service_selects_the_pods() -> None:
    docs = _manifests()
    pod_labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = _one(docs, "Service")["spec"]["selector"]
    assert selector.items() <= pod_labels.items()
    pdb_selector = _one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    assert pdb_selector.items() <= pod_labels.items()


def test_replicas_prefer_different_nodes() -> None:
    pod = _one(_manifests(), "Deployment")["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        "requiredDuringSchedulingIgnoredDuringExecution" not in pod["affinity"]["podAntiAffinity"]
    )


def test_container_runs_serve_with_the_mounted_config() -> None:
    docs = _manifests()
    container = _container(docs)
    assert container["args"][:2] == ["serve", "--config"]
    config_path = Path(container["args"][2])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config_path.parent == Path(mounts["config"])
    volumes = _one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == "config"]
    assert volume["configMap"]["name"] == _one(docs, "ConfigMap")["metadata"]["name"]
    assert config_path.name in _one(docs, "ConfigMap")["data"]


def test_grace_period_outlasts_the_service_drain() -> None:
    pod = _one(_manifests({"config": {"shutdown_grace_s": 90}}), "Deployment")["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > 90


@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_rendered_config_file_loads_as_service_settings(
    values: dict[str, Any] | None, tmp_path: Path
) -> None:
    docs = _manifests(values)
    path = tmp_path / "config.yaml"
    path.write_text(_one(docs, "ConfigMap")["data"]["config.yaml"])
    # extra="forbid" in ServiceSettings: a key the service does not read fails here.
    settings = ServiceSettings.load(path)
    expected = (values or {}).get("config", {})
    assert settings.bootstrap_servers == expected.get("bootstrap_servers", "kafka:9092")
    assert settings.metrics_port == _container(docs)["ports"][0]["containerPort"]
    assert settings.pipeline.cache_dir == "/var/cache/agenther"
    dumped = settings.model_dump(mode="json")
    for key, value in expected.items():
        if key == "pipeline":
            assert value.items() <= dumped["pipeline"].items()
        else:
            assert dumped[key] == value, key


def _settable(fields: set[str], *excluded: set[str]) -> set[str]:
    return fields.difference(*excluded)


def test_values_schema_offers_exactly_the_settings_the_service_reads() -> None:
    schema = helm.Chart.load(CHART).schema
    assert schema is not None
    config = schema["properties"]["config"]
    service_fields = set(ServiceSettings.model_fields) - {"pipeline"}
    assert set(config["properties"]) - {"pipeline"} == _settable(
        service_fields, CHART_MANAGED, SECRETS, NOT_FOR_A_POD
    )
    pipeline_fields = set(PipelineConfig.model_fields)
    assert set(config["properties"]["pipeline"]["properties"]) == _settable(
        pipeline_fields, CHART_MANAGED_PIPELINE, SECRET_PIPELINE, NOT_FOR_THE_SERVICE_PIPELINE
    )
    assert config["additionalProperties"] is False
    assert config["properties"]["pipeline"]["additionalProperties"] is False
    strategies = config["properties"]["pipeline"]["properties"]["rule_strategies"]
    assert tuple(strategies["items"]["enum"]) == RULE_STRATEGIES


def test_chart_defaults_are_the_service_defaults() -> None:
    # The chart restates defaults so operators see them; they must not drift from the code.
    defaults = helm.Chart.load(CHART).values["config"]
    for model, values in ((ServiceSettings, defaults), (PipelineConfig, defaults["pipeline"])):
        for key, value in values.items():
            if key in ("pipeline", "bootstrap_servers"):
                continue
            field = model.model_fields[key]
            assert field.annotation is not None
            assert TypeAdapter(field.annotation).validate_python(value) == field.default, key


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"replicas": 3}, "'replicas' not allowed"),
        ({"config": {"input_topc": "x"}}, "'input_topc' not allowed"),
        ({"config": {"pipeline": {"min_confidance": 0.6}}}, "'min_confidance' not allowed"),
        ({"config": {"sasl_password": "hunter2"}}, "'sasl_password' not allowed"),
        ({"config": {"pipeline": {"api_key": "sk-x"}}}, "'api_key' not allowed"),
        ({"config": {"output_format": "alpaca"}}, "/config/output_format"),
        ({"config": {"pipeline": {"min_confidence": 1.5}}}, "/config/pipeline/min_confidence"),
        ({"keda": {"enabled": "yes"}}, "/keda/enabled"),
    ],
)
def test_values_schema_rejects_typos_secrets_and_bad_values(
    values: dict[str, Any], where: str
) -> None:
    with pytest.raises(HelmValuesError, match=where):
        _render(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"autoscaling": {"enabled": True}, "keda": {"enabled": True}},
            "mutually exclusive",
        ),
        (
            {"config": {"sasl_mechanism": "PLAIN", "sasl_username": "u"}},
            "kafka.sasl.existingSecret",
        ),
        (
            {"config": {"sasl_mechanism": "PLAIN"}, "kafka": {"sasl": {"existingSecret": "s"}}},
            "sasl_username",
        ),
    ],
)
def test_inconsistent_values_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError, match=message):
        _render(values)


def test_secrets_are_references_only() -> None:
    docs = _manifests(WITH_KEDA)
    env = {e["name"]: e for e in _container(docs)["env"]}
    assert env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "llm-key",
        "key": "openai",
    }
    assert env["AGENTHER_JUDGE_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "judge-key",
        "key": "token",
    }
    assert env["AGENTHER_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "kafka-creds",
        "key": "password",
    }
    assert all("value" not in env[name] for name in env if name != "AGENTHER_LOG_LEVEL")
    assert "Secret" not in {doc["kind"] for doc in docs}


def test_no_env_block_without_secrets_or_extra_env() -> None:
    assert "env" not in _container(_manifests())


def test_checksum_rolls_pods_on_config_changes_only() -> None:
    def checksum(values: dict[str, Any] | None) -> str:
        pod = _one(_manifests(values), "Deployment")["spec"]["template"]["metadata"]
        value: str = pod["annotations"]["checksum/config"]
        return value

    base = checksum(None)
    assert len(base) == 64
    assert checksum({"config": {"max_in_flight": 8}}) != base
    assert checksum({"replicaCount": 1}) == base


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler() -> None:
    assert _one(_manifests(), "Deployment")["spec"]["replicas"] == 2
    for values in (WITH_HPA, WITH_KEDA):
        assert "replicas" not in _one(_manifests(values), "Deployment")["spec"]


def test_hpa_targets_the_deployment() -> None:
    docs = _manifests(WITH_HPA)
    hpa = _one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == _one(docs, "Deployment")["metadata"]["name"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)


def test_keda_scales_on_the_consumer_group_lag_of_the_input_topic() -> None:
    docs = _manifests(WITH_KEDA)
    scaled = _one(docs, "ScaledObject")
    assert scaled["apiVersion"] == CRD_API_VERSIONS["ScaledObject"]
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == _one(docs, "Deployment")["metadata"]["name"]
    assert spec["maxReplicaCount"] == 12
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    config = _config_file(docs)
    assert trigger["metadata"] == {
        "bootstrapServers": config["bootstrap_servers"],
        "consumerGroup": config["group_id"],
        "topic": config["input_topic"],
        "lagThreshold": "50",
        "activationLagThreshold": "0",
        "allowIdleConsumers": "false",
        "offsetResetPolicy": "earliest",
    }
    # KEDA reads trigger metadata as a map of strings.
    assert all(isinstance(v, str) for v in trigger["metadata"].values())
    assert trigger["authenticationRef"] == {"name": "ka"}


def test_service_monitor_scrapes_the_metrics_port_of_the_service() -> None:
    docs = _manifests(WITH_HPA)
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == CRD_API_VERSIONS["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = _one(docs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_notes_warn_about_idle_replicas_and_a_missing_key() -> None:
    notes = _render({"replicaCount": 6})["agenther/templates/NOTES.txt"]
    assert "6 replicas but config.topic_partitions is 4" in notes
    assert "no OPENAI_API_KEY" in notes
    quiet = _render({**LLM_SECRETS, "replicaCount": 2})["agenther/templates/NOTES.txt"]
    assert "WARNING" not in quiet
    rule_based = _render({"config": {"pipeline": {"rule_based": True}}})
    assert "WARNING" not in rule_based["agenther/templates/NOTES.txt"]


def test_app_version_is_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    with helm.Chart.load(CHART) as chart:
        assert chart.metadata["appVersion"] == pyproject["project"]["version"]
        image = _container(_manifests())["image"]
        assert image.endswith(f":{chart.metadata['appVersion']}")
