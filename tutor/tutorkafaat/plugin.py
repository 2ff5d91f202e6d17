"""The Tutor plugin: configuration, template patches, the lab-host image and the ``do kafaat-images`` job.

What it adds to an Open edX deployed with Tutor:

- kafaat-xblocks in the openedx image (``KAFAAT_PIP_SPEC``, or a checkout added with ``tutor mounts add``);
- the ``KAFAAT`` settings of the LMS and Studio;
- a lab-host service (``kafaat-labhost``: privileged, its own image with bubblewrap and util-linux, the
  image cache as a volume) running ``kafaat_lab_host run``: Celery worker on the lab queues, terminal
  gateway, heartbeat; a Docker Compose service locally, a StatefulSet on Kubernetes;
- the gateway's websocket route in Caddy;
- a periodic-jobs service (``kafaat-periodic``) running ``kafaat_periodic run``, since Tutor runs no
  Celery beat;
- ``tutor local do kafaat-images``, which builds the lab images on the lab host.
"""

from __future__ import annotations

import pathlib
import typing as t

import click
from tutor import hooks

from tutorkafaat.__about__ import __version__

HERE = pathlib.Path(__file__).resolve().parent

hooks.Filters.CONFIG_DEFAULTS.add_items(
    [
        ("KAFAAT_VERSION", __version__),
        # What pip installs into the openedx image: a git URL or a wheel URL until kafaat-xblocks is
        # released, e.g. "kafaat-xblocks @ git+https://git.example.org/kafaat.git@v0.1.0". Leave it
        # empty when the checkout is added with ``tutor mounts add /path/to/kafaat-xblocks`` instead.
        ("KAFAAT_PIP_SPEC", ""),
        ("KAFAAT_LABHOST_DOCKER_IMAGE", "{{ DOCKER_REGISTRY }}kafaat/labhost:{{ KAFAAT_VERSION }}-{{ TUTOR_VERSION }}"),
        # Kubernetes: how many lab-host pods (each one machine's worth of sandboxes).
        ("KAFAAT_LABHOST_REPLICAS", 1),
        ("KAFAAT_LABHOST_CAPACITY", 20),  # live lab sessions per lab host
        ("KAFAAT_LABHOST_CONCURRENCY", 4),  # worker processes per lab host
        ("KAFAAT_LABHOST_IMAGE_CACHE_SIZE", "20Gi"),  # Kubernetes volume of each lab host's images
        ("KAFAAT_CREDENTIAL_KEYS_SIZE", "1Gi"),
        # The signing keys are written by the LMS and its workers: several pods need the volume at once.
        ("KAFAAT_CREDENTIAL_KEYS_ACCESS_MODE", "ReadWriteMany"),
        # The lab images are Debian; the openedx image is Ubuntu, whose mirror has no Debian suites.
        ("KAFAAT_IMAGE_MIRROR", "http://deb.debian.org/debian"),
        ("KAFAAT_SANDBOX_UID_BASE", 100000),
        # Live sandboxes per lab host, each with its own slot of 65,536 host ids.
        ("KAFAAT_SANDBOX_UID_SLOTS", 1024),
        ("KAFAAT_RUN_PERIODIC", True),
        # Any other KAFAAT settings, merged last (see the docs of each app).
        ("KAFAAT_SETTINGS", {}),
    ]
)
hooks.Filters.ENV_TEMPLATE_ROOTS.add_item(str(HERE / "templates"))
hooks.Filters.ENV_TEMPLATE_TARGETS.add_items([("kafaat/build", "plugins")])

# A checkout named kafaat or kafaat-xblocks is installed (editable) into the openedx image and
# mounted into its containers, ours included ("tutor mounts add /path/to/kafaat-xblocks").
hooks.Filters.MOUNTED_DIRECTORIES.add_item(("openedx", r"kafaat(-xblocks)?$"))

hooks.Filters.IMAGES_BUILD.add_item(
    ("kafaat-labhost", ("plugins", "kafaat", "build", "kafaat-labhost"), "{{ KAFAAT_LABHOST_DOCKER_IMAGE }}", ())
)
hooks.Filters.IMAGES_PULL.add_item(("kafaat-labhost", "{{ KAFAAT_LABHOST_DOCKER_IMAGE }}"))
hooks.Filters.IMAGES_PUSH.add_item(("kafaat-labhost", "{{ KAFAAT_LABHOST_DOCKER_IMAGE }}"))


def _read_patches() -> list[tuple[str, str]]:
    patches = []
    for path in sorted((HERE / "patches").iterdir()):
        if path.is_file():
            patches.append((path.name, path.read_text(encoding="utf-8")))
    # The same KAFAAT settings for the LMS and for Studio (and the workers and lab hosts, which
    # load the LMS settings).
    settings = (HERE / "patches" / "_kafaat-settings").read_text(encoding="utf-8")
    patches = [(name, text) for name, text in patches if not name.startswith("_")]
    patches += [("openedx-lms-common-settings", settings), ("openedx-cms-common-settings", settings)]
    return patches


hooks.Filters.ENV_PATCHES.add_items(_read_patches())


@click.command("kafaat-images", help="Build the lab images (Debian root filesystems) on the lab host.")
@click.option("--force", is_flag=True, help="rebuild images that are already built")
@click.argument("names", nargs=-1)
def kafaat_images(force: bool, names: tuple[str, ...]) -> t.Iterable[tuple[str, str]]:
    """Yield the job that builds the images in the lab host's image cache (local and dev)."""
    context = click.get_current_context().find_root().obj
    if type(context).__name__ == "K8sContext":
        # Each lab-host pod has its own image cache and builds the images when it starts.
        click.echo(
            "On Kubernetes every lab-host pod builds its lab images when it starts; after changing a recipe, "
            "restart them: kubectl rollout restart statefulset/kafaat-labhost"
        )
        return []
    targets = " ".join(names) if names else "--all"
    return [("kafaat-labhost", f"kafaat image build {'--force ' if force else ''}{targets}")]


hooks.Filters.CLI_DO_COMMANDS.add_item(kafaat_images)
