"""The reference deployment's files, checked as an operator's tools would check them.

- ``haproxy -c`` (Debian's HAProxy, ``make haproxy``) validates deploy/haproxy.cfg with the
  replica name resolvable (``BPV_APP=localhost:8000``), warnings counted as failures.
- deploy/compose.yaml: the Docker client here has no Compose plugin and no engine, so the
  file is read with PyYAML and checked for what ``docker compose up`` needs and what the app
  reads: services, health checks, the Redis URL and the settings each replica gets.
- deploy/k8s/: every manifest parsed; probes, ports, Services and env consistent with each
  other and with the app (its settings, its health route, its graceful shutdown).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.cli import GRACEFUL_SHUTDOWN_S
from app.settings import Settings, settings_from_env
from tests.deploy.procs import DEPLOY, HAPROXY_CFG, ROOT, haproxy_binary

K8S = DEPLOY / "k8s"
SETTING_NAMES = {f"BPV_{f.name.upper()}" for f in dataclasses.fields(Settings)}
# Variables read by HAProxy's config, not by the app.
HAPROXY_VARS = {"BPV_APP", "BPV_LISTEN", "BPV_STATS_BIND", "BPV_MAXCONN"}
Manifests = dict[tuple[str, str], dict[str, Any]]  # (kind, name) -> the manifest


def image_port() -> int:
    """The port the image's uvicorn listens on (its CMD's --port)."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    cmd = next(line for line in lines if line.startswith("CMD"))
    return int(re.search(r'"--port", "(\d+)"', cmd).group(1))  # type: ignore[union-attr]


def check_app_env(env: dict[str, str]) -> None:
    """Every BPV_ variable given to a replica is one of the app's settings, and the values
    as given (Compose's ${X:-default} read as its default) pass the app's own checks."""
    resolved = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()}
    unknown = {k for k in resolved if k.startswith("BPV_")} - SETTING_NAMES
    assert not unknown, f"not settings of the app: {unknown}"
    settings_from_env({k: v for k, v in resolved.items() if k.startswith("BPV_")})


# ---- HAProxy -------------------------------------------------------------------------------


def test_haproxy_accepts_the_config_without_warnings() -> None:
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(HAPROXY_CFG)],
        env={"BPV_APP": "localhost:8000", "PATH": "/usr/sbin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Configuration file is valid" in out
    assert "WARNING" not in out and "ALERT" not in out, out


def test_haproxy_refuses_a_broken_config(tmp_path: Path) -> None:
    # The check above can fail: the same file with one typo is refused.
    bad = tmp_path / "haproxy.cfg"
    bad.write_text(HAPROXY_CFG.read_text().replace("timeout tunnel 1h", "timeout tunel 1h"))
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(bad)],
        env={"BPV_APP": "localhost:8000"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0


def test_every_replica_slot_has_its_affinity_rule() -> None:
    # run_home remembers a replica by its id; a slot with no use-server line would lose the
    # affinity of the runs made on it (with the in-process store: those runs).
    text = HAPROXY_CFG.read_text()
    slots = {int(n) for n in re.findall(r"server-template app (\d+) ", text)}
    assert len(slots) == 1, "both backends must have the same replica slots (shared ids)"
    (n,) = slots
    rule = r"use-server app(\d+) if \{ path,field\(4,/\),table_gpt0\(run_home\) eq (\d+) \}"
    rules = re.findall(rule, text)
    assert sorted((int(a), int(b)) for a, b in rules) == [(i, i) for i in range(1, n + 1)]


def test_haproxy_defaults_keep_streams_and_stats_private() -> None:
    text = HAPROXY_CFG.read_text()
    # A paused stream is quiet between uvicorn's 20 s pings: the tunnel outlives that.
    tunnel = re.search(r"timeout tunnel (\d+)([smh])", text)
    assert tunnel is not None
    seconds = int(tunnel.group(1)) * {"s": 1, "m": 60, "h": 3600}[tunnel.group(2)]
    assert seconds >= 60
    assert re.search(r"timeout client-fin \d+s", text)
    # The stats page binds loopback unless the deployment says otherwise.
    assert '"${BPV_STATS_BIND-127.0.0.1:8404}"' in text
    # Health checks ask the app's health route.
    assert text.count("http-check send meth GET uri /healthz") == 2


# ---- Compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "app", "haproxy"}
    app, redis = services["app"], services["redis"]
    # The app is built from the project's Dockerfile and reached only through HAProxy.
    assert (DEPLOY / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == (
        ROOT / "Dockerfile"
    )
    assert "ports" not in app and "ports" not in redis
    assert [str(p) for p in app["expose"]] == [str(image_port())]
    # More than one replica by default, and no more than HAProxy has slots for.
    replicas = int(re.sub(r"\$\{BPV_REPLICAS:-(\d+)\}", r"\1", str(app["deploy"]["replicas"])))
    slots = re.findall(r"server-template app (\d+) ", HAPROXY_CFG.read_text())
    assert 2 <= replicas <= min(int(n) for n in slots)
    # Redis is healthy before a replica starts; the replicas' health is the app's /healthz.
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert f"http://127.0.0.1:{image_port()}/healthz" in " ".join(app["healthcheck"]["test"])
    # The stop grace covers uvicorn's graceful shutdown.
    assert float(app["stop_grace_period"].rstrip("s")) > GRACEFUL_SHUTDOWN_S


def test_compose_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    app, lb = services["app"], services["haproxy"]
    env = app["environment"]
    check_app_env(env)
    url = urlsplit(env["BPV_REDIS_URL"])
    assert url.scheme == "redis" and url.hostname == "redis" and url.port == 6379
    # HAProxy finds the replicas by the app service's name, on the image's port, with the
    # config this directory holds, and publishes its stats on the host's loopback only.
    lb_env = lb["environment"]
    assert set(lb_env) <= HAPROXY_VARS
    assert lb_env["BPV_APP"] == f"app:{image_port()}"
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    assert (DEPLOY / "haproxy.cfg").exists()
    stats = [p for p in lb["ports"] if str(p).endswith(":8404")]
    assert stats == ["127.0.0.1:8404:8404"]
    assert lb_env["BPV_STATS_BIND"] == ":8404"
    # Enough descriptors for maxconn (two per proxied connection, and some).
    assert lb["ulimits"]["nofile"]["hard"] >= 2 * int(lb_env["BPV_MAXCONN"])


# ---- Kubernetes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert doc["apiVersion"] and doc["metadata"]["name"]
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, "every manifest is applied by kubectl apply -k"
    return found


def container(deploy: dict[str, Any]) -> dict[str, Any]:
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    return c  # type: ignore[no-any-return]


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def service_for(k8s: Manifests, deploy: dict[str, Any]) -> list[dict[str, Any]]:
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    return [
        doc
        for (kind, _), doc in k8s.items()
        if kind == "Service" and doc["spec"]["selector"].items() <= labels.items()
    ]


def test_k8s_app(k8s: Manifests) -> None:
    deploy = k8s[("Deployment", "backprop-viz-app")]
    c = container(deploy)
    (port,) = c["ports"]
    assert port["containerPort"] == image_port()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] in (port["name"], port["containerPort"])
    # A pod leaves the endpoints (preStop sleep), then uvicorn shuts down gracefully, all
    # within the grace period.
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > int(pre_stop[1]) + GRACEFUL_SHUTDOWN_S
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    env = env_of(c)
    check_app_env(env)
    # The Redis URL names the Redis Service and its port.
    url = urlsplit(env["BPV_REDIS_URL"])
    redis_svc = k8s[("Service", url.hostname or "")]
    assert url.port in [p["port"] for p in redis_svc["spec"]["ports"]]
    assert service_for(k8s, k8s[("Deployment", "backprop-viz-redis")]) == [redis_svc]
    # HAProxy resolves the headless Service: every ready replica's address.
    (svc,) = service_for(k8s, deploy)
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["ports"][0]["targetPort"] in (port["name"], port["containerPort"])


def test_k8s_haproxy(k8s: Manifests) -> None:
    config = k8s[("ConfigMap", "backprop-viz-haproxy")]
    assert config["data"]["haproxy.cfg"] == HAPROXY_CFG.read_text(), (
        "deploy/k8s/haproxy-config.yaml is older than deploy/haproxy.cfg: regenerate it "
        "(the command is in its first lines)"
    )
    deploy = k8s[("Deployment", "backprop-viz-haproxy")]
    c = container(deploy)
    env = env_of(c)
    assert set(env) - {"POD_NAMESPACE"} <= HAPROXY_VARS
    app_svc = k8s[("Service", "backprop-viz-app")]
    host, port = env["BPV_APP"].rsplit(":", 1)
    assert host == "backprop-viz-app.$(POD_NAMESPACE).svc.cluster.local"
    assert int(port) == app_svc["spec"]["ports"][0]["port"]
    assert env["BPV_STATS_BIND"].startswith("127.0.0.1:")
    listen = int(env["BPV_LISTEN"].rsplit(":", 1)[1])
    assert [p["containerPort"] for p in c["ports"]] == [listen]
    (mount,) = c["volumeMounts"]
    assert mount["mountPath"] == "/usr/local/etc/haproxy"
    volumes = deploy["spec"]["template"]["spec"]["volumes"]
    assert [v["configMap"]["name"] for v in volumes if v["name"] == mount["name"]] == [
        "backprop-viz-haproxy"
    ]
    (front,) = service_for(k8s, deploy)
    assert front["spec"]["ports"][0]["targetPort"] in ("http", listen)
