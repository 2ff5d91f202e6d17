"""The plugin rendered by the real Tutor CLI (offline, in a temporary project root), then parsed and checked.

No Docker engine or Kubernetes API server is used: what is checked is what Tutor writes (the Compose
files, the Caddyfile, the settings, the Dockerfiles, the Kubernetes manifests), and the manifests are
validated against the Kubernetes schemas bundled with kubernetes-validate.
"""

from __future__ import annotations

import copy
import os
import pathlib
import re
import subprocess
import sys

import click
import kubernetes_validate
import pytest
import yaml
from tutor.__about__ import __version__ as TUTOR_VERSION

from tutorkafaat import plugin

TUTOR = [sys.executable, "-m", "tutor.commands.cli"]
# The oldest and the newest Kubernetes minor versions this kubernetes-validate release bundles that
# the supported Tutor releases still deploy to.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
GIT_SPEC = "kafaat-xblocks @ git+https://git.example.org/kafaat.git@v0.1.0"


def tutor_cli(root: pathlib.Path, *args: str) -> str:
    env = {**os.environ, "TUTOR_ROOT": str(root), "TUTOR_PLUGINS_ROOT": str(root / "plugins")}
    completed = subprocess.run([*TUTOR, *args], env=env, capture_output=True, text=True, check=False, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def render(root: pathlib.Path, *settings: str) -> pathlib.Path:
    sets = [item for setting in settings for item in ("--set", setting)]
    tutor_cli(root, "config", "save", *sets)
    tutor_cli(root, "plugins", "enable", "kafaat")
    return root / "env"


@pytest.fixture(scope="module")
def https_env(tmp_path_factory) -> pathlib.Path:
    """A site on https://lms.example.org with three lab hosts on Kubernetes and one extra setting."""
    return render(
        tmp_path_factory.mktemp("tutor-https"),
        "LMS_HOST=lms.example.org",
        "ENABLE_HTTPS=true",
        f"KAFAAT_PIP_SPEC={GIT_SPEC}",
        "KAFAAT_LABHOST_REPLICAS=3",
        "KAFAAT_LABHOST_CAPACITY=12",
        'KAFAAT_SETTINGS={"CHECK_WAIT": 60, "TERMINAL_TOKEN_TTL": 30}',
    )


@pytest.fixture(scope="module")
def default_env(tmp_path_factory) -> pathlib.Path:
    return render(tmp_path_factory.mktemp("tutor-default"))


def load_all(path: pathlib.Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def by_name(documents: list[dict]) -> dict[tuple[str, str], dict]:
    return {(document["kind"], document["metadata"]["name"]): document for document in documents}


def compose(env: pathlib.Path, name: str = "docker-compose.yml") -> dict:
    return yaml.safe_load((env / "local" / name).read_text())


# --------------------------------------------------------------------------- Docker Compose


def test_the_lab_host_service_is_privileged_with_its_image_cache_and_gateway_url(https_env):
    services = compose(https_env)["services"]
    labhost = services["kafaat-labhost"]
    assert labhost["image"] == f"docker.io/kafaat/labhost:{plugin.__version__}-{TUTOR_VERSION}"
    assert labhost["privileged"] is True and labhost["user"] == "0:0"
    env = labhost["environment"]
    assert env["DJANGO_SETTINGS_MODULE"] == "lms.envs.tutor.production"
    assert env["KAFAAT_LAB_HOST"] == "kafaat-labhost"
    assert env["KAFAAT_LAB_HOST_GATEWAY_URL"] == "wss://lms.example.org/kafaat/labhosts/kafaat-labhost"
    assert env["KAFAAT_IMAGE_MIRROR"] == "http://deb.debian.org/debian"
    volumes = labhost["volumes"]
    assert "../../data/kafaat/images:/var/cache/kafaat/images" in volumes
    assert "../../data/kafaat/sandboxes:/var/lib/kafaat/sandboxes" in volumes
    assert "../apps/openedx/settings/lms:/openedx/edx-platform/lms/envs/tutor:roz" in volumes
    assert not any("credential-keys" in volume or volume.startswith("../../data/lms:") for volume in volumes)
    assert set(labhost["depends_on"]) >= {"lms", "mysql", "redis"}


def test_the_periodic_service_runs_the_jobs_with_the_lms_data_where_the_signing_keys_live(https_env):
    periodic = compose(https_env)["services"]["kafaat-periodic"]
    assert periodic["command"] == ["./manage.py", "lms", "kafaat_periodic", "run"]
    assert "../../data/lms:/openedx/data:z" in periodic["volumes"]
    assert "privileged" not in periodic


def test_lms_workers_never_consume_the_lab_queues(https_env):
    prod = compose(https_env, "docker-compose.prod.yml")["services"]
    for worker in ("lms-worker", "cms-worker"):
        queues = next(arg for arg in prod[worker]["command"] if arg.startswith("--queues="))
        assert "kafaat" not in queues, queues


def test_the_images_job_runs_in_a_privileged_lab_host_container(https_env):
    job = compose(https_env, "docker-compose.jobs.yml")["services"]["kafaat-labhost-job"]
    assert job["privileged"] is True and job["image"].startswith("docker.io/kafaat/labhost:")
    assert "../../data/kafaat/images:/var/cache/kafaat/images" in job["volumes"]


def test_turning_the_periodic_service_off_removes_it(tmp_path):
    env = render(tmp_path, "KAFAAT_RUN_PERIODIC=false")
    assert "kafaat-periodic" not in compose(env)["services"]
    assert ("Deployment", "kafaat-periodic") not in by_name(load_all(env / "k8s" / "deployments.yml"))


# --------------------------------------------------------------------------- Caddy


def _site_block(caddyfile: str, host: str) -> str:
    start = caddyfile.index(host + "{$default_site_port} {")
    opening = caddyfile.index("{", start + len(host) + len("{$default_site_port}"))
    depth = 0
    for end in range(opening, len(caddyfile)):
        depth += {"{": 1, "}": -1}.get(caddyfile[end], 0)
        if depth == 0:
            return caddyfile[start : end + 1]
    raise AssertionError(f"the site block of {host} is not closed")


def test_caddy_routes_each_lab_hosts_websockets_inside_the_lms_site_only(https_env):
    caddyfile = (https_env / "apps" / "caddy" / "Caddyfile").read_text()
    assert caddyfile.count("{") == caddyfile.count("}")
    lms = _site_block(caddyfile, "lms.example.org")
    assert "handle /kafaat/labhosts/* {" in lms
    assert "reverse_proxy kafaat-labhost:8010" in lms
    assert "reverse_proxy {re.kafaat_pod.1}.kafaat-labhost:8010" in lms
    studio = _site_block(caddyfile, "studio.lms.example.org")
    assert "kafaat" not in studio
    pattern = re.search(r"path_regexp kafaat_pod (\S+)", lms).group(1)
    assert re.match(pattern, "/kafaat/labhosts/kafaat-labhost-2/kafaat/terminal/ws/5/")
    for forged in ("/kafaat/labhosts/mysql/", "/kafaat/labhosts/kafaat-labhost-1.evil/", "/kafaat/labhosts/lms-0/"):
        assert not re.match(pattern, forged), forged


# --------------------------------------------------------------------------- settings and images


def _kafaat_block(settings_file: pathlib.Path) -> dict:
    text = settings_file.read_text()
    start = text.index("# Kafaat (tutor-contrib-kafaat)")
    end = text.index("\n}\n", start) + 3
    namespace: dict = {"KAFAAT": {"DEMO_KEPT": True}}  # what plugin_settings already put there
    exec(compile(text[start:end], str(settings_file), "exec"), namespace)  # noqa: S102
    return namespace["KAFAAT"]


@pytest.mark.parametrize("service", ["lms", "cms"])
def test_the_kafaat_settings_reach_the_lms_and_studio(https_env, service):
    kafaat = _kafaat_block(https_env / "apps" / "openedx" / "settings" / service / "production.py")
    assert kafaat["DEMO_KEPT"] is True
    assert kafaat["PUBLIC_BASE_URL"] == "https://lms.example.org"
    assert kafaat["TERMINAL_ALLOWED_ORIGINS"] == ["https://lms.example.org"]
    assert kafaat["LAB_HOST_CAPACITY"] == 12
    assert kafaat["IMAGE_MIRROR"] == "http://deb.debian.org/debian"
    assert kafaat["CREDENTIAL_KEY_DIR"] == "/openedx/data/kafaat/credential-keys"
    assert (kafaat["CHECK_WAIT"], kafaat["TERMINAL_TOKEN_TTL"]) == (60, 30)  # KAFAAT_SETTINGS, merged last


def test_the_openedx_image_installs_the_configured_package(https_env, default_env):
    dockerfile = (https_env / "build" / "openedx" / "Dockerfile").read_text()
    assert f"pip install '{GIT_SPEC}'" in dockerfile
    assert dockerfile.index("pip install '") > dockerfile.index("FROM python AS python-requirements")
    assert "kafaat" not in (default_env / "build" / "openedx" / "Dockerfile").read_text()  # nothing to install


def test_a_mounted_checkout_is_built_into_the_image_and_mounted_in_the_lab_host(tmp_path):
    checkout = tmp_path / "src" / "kafaat-xblocks"
    checkout.mkdir(parents=True)
    root = tmp_path / "root"
    tutor_cli(root, "config", "save")
    tutor_cli(root, "mounts", "add", str(checkout))
    env = render(root)
    assert "FROM scratch AS mnt-kafaat-xblocks" in (env / "build" / "openedx" / "Dockerfile").read_text()
    services = compose(env)["services"]
    for service in ("lms", "kafaat-labhost", "kafaat-periodic"):
        mounted = [volume for volume in services[service]["volumes"] if volume.startswith(f"{checkout}:")]
        assert [volume.split(":")[1] for volume in mounted] == ["/mnt/kafaat-xblocks"], service


def test_the_lab_host_image_takes_the_sandbox_tools_from_debian_and_checks_them(https_env):
    folder = https_env / "plugins" / "kafaat" / "build" / "kafaat-labhost"
    dockerfile = (folder / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", dockerfile, re.MULTILINE)
    assert stages[0] == ("docker.io/debian:bookworm-slim", "sandbox-tools")
    assert stages[1][0].startswith("docker.io/overhangio/openedx:")  # DOCKER_IMAGE_OPENEDX, rendered
    for copied in ("/usr/bin/bwrap", "/usr/bin/unshare /usr/bin/nsenter", "/usr/sbin/debootstrap"):
        assert f"COPY --from=sandbox-tools {copied}" in dockerfile
    assert 'echo "root:100000:67174400" >> /etc/subuid' in dockerfile  # slot 0 and 1,024 slots of 65,536
    assert "gcc libc6-dev" in dockerfile
    assert 'python -c "import xblocks.labs"' in dockerfile
    entrypoint = (folder / "kafaat-labhost-entrypoint").read_text()
    assert "cgroup.subtree_control" in entrypoint and entrypoint.rstrip().endswith('exec "$@"')
    start = (folder / "kafaat-labhost-start").read_text()
    assert "kafaat image build --all" in start and "kafaat_lab_host run" in start
    for script in ("kafaat-labhost-entrypoint", "kafaat-labhost-start"):
        assert subprocess.run(["sh", "-n", str(folder / script)], check=False).returncode == 0, script


def test_tutor_knows_the_image_and_the_job(https_env):
    root = https_env.parent
    assert (
        tutor_cli(root, "images", "printtag", "kafaat-labhost")
        .strip()
        .endswith(f"kafaat/labhost:{plugin.__version__}-{TUTOR_VERSION}")
    )
    assert "kafaat-images" in tutor_cli(root, "local", "do", "--help")


def test_the_images_job_builds_everything_or_the_named_images_and_is_a_notice_on_kubernetes(tmp_path, capsys):
    from tutor.commands.k8s import K8sContext
    from tutor.commands.local import LocalContext

    command = click.Command("do")
    with click.Context(command, obj=LocalContext(str(tmp_path))):
        assert plugin.kafaat_images.callback(False, ()) == [("kafaat-labhost", "kafaat image build --all")]
        assert plugin.kafaat_images.callback(True, ("web",)) == [("kafaat-labhost", "kafaat image build --force web")]
    with click.Context(command, obj=K8sContext(str(tmp_path))):
        assert plugin.kafaat_images.callback(False, ()) == []
    assert "rollout restart statefulset/kafaat-labhost" in capsys.readouterr().out


# --------------------------------------------------------------------------- Kubernetes


def _strategic_merge(base: dict, patch: dict) -> dict:
    """Enough of a strategic merge for this plugin's override: dicts merge, name-keyed lists merge by name."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _strategic_merge(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list) and all("name" in v for v in value):
            items = {item.get("name"): item for item in merged[key]}
            for item in value:
                items[item["name"]] = _strategic_merge(items[item["name"]], item) if item["name"] in items else item
            merged[key] = list(items.values())
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_kubernetes_resources_validate_against_the_schemas(https_env, version):
    resources = []
    for name in ("deployments", "services", "volumes"):
        resources += [doc for doc in load_all(https_env / "k8s" / f"{name}.yml") if "kafaat" in doc["metadata"]["name"]]
    assert {(doc["kind"], doc["metadata"]["name"]) for doc in resources} == {
        ("StatefulSet", "kafaat-labhost"),
        ("Deployment", "kafaat-periodic"),
        ("Service", "kafaat-labhost"),
        ("PersistentVolumeClaim", "kafaat-credential-keys"),
    }
    deployments = by_name(load_all(https_env / "k8s" / "deployments.yml"))
    for patch in load_all(https_env / "k8s" / "override.yml"):
        resources.append(_strategic_merge(deployments[(patch["kind"], patch["metadata"]["name"])], patch))
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_each_lab_host_pod_is_privileged_with_its_own_cache_and_a_stable_gateway_address(https_env):
    deployments = by_name(load_all(https_env / "k8s" / "deployments.yml"))
    labhost = deployments[("StatefulSet", "kafaat-labhost")]
    spec = labhost["spec"]
    assert spec["replicas"] == 3 and spec["serviceName"] == "kafaat-labhost"
    container = spec["template"]["spec"]["containers"][0]
    assert container["securityContext"] == {"privileged": True, "runAsUser": 0, "runAsGroup": 0}
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["KAFAAT_LAB_HOST"] == "$(POD_NAME)"
    assert env["KAFAAT_LAB_HOST_GATEWAY_URL"] == "wss://lms.example.org/kafaat/labhosts/$(POD_NAME)"
    names = [item["name"] for item in container["env"]]
    assert names.index("POD_NAME") < names.index("KAFAAT_LAB_HOST")  # $(POD_NAME) expands only after it
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts["/var/cache/kafaat/images"] == "kafaat-images"
    assert "/openedx/data/kafaat/credential-keys" not in mounts  # no signing keys on a lab host
    claim = spec["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "kafaat-images" and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    service = by_name(load_all(https_env / "k8s" / "services.yml"))[("Service", "kafaat-labhost")]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]


def test_the_lms_and_its_workers_share_the_signing_keys_volume(https_env):
    kustomization = yaml.safe_load((https_env / "kustomization.yml").read_text())
    # Tutor 21 lists it under "patches", Tutor 20 under the older "patchesStrategicMerge"
    listed = kustomization.get("patches") or [{"path": path} for path in kustomization["patchesStrategicMerge"]]
    assert {"path": "k8s/override.yml"} in listed
    patched = {doc["metadata"]["name"]: doc for doc in load_all(https_env / "k8s" / "override.yml")}
    assert set(patched) == {"lms", "lms-worker"}
    for name, doc in patched.items():
        pod = doc["spec"]["template"]["spec"]
        assert pod["containers"][0]["name"] == name
        assert pod["volumes"] == [
            {"name": "kafaat-credential-keys", "persistentVolumeClaim": {"claimName": "kafaat-credential-keys"}}
        ]
    claim = by_name(load_all(https_env / "k8s" / "volumes.yml"))[("PersistentVolumeClaim", "kafaat-credential-keys")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


# --------------------------------------------------------------------------- the distribution


def test_the_plugin_wheel_carries_its_patches_and_templates(tmp_path):
    import zipfile

    here = pathlib.Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-build-isolation",
            "--no-deps",
            str(here),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("tutor_contrib_kafaat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = here / "tutorkafaat"
    expected = {
        str(path.relative_to(here)) for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected <= names, sorted(expected - names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "kafaat = tutorkafaat.plugin" in zipfile.ZipFile(wheel).read(entry_points).decode()
