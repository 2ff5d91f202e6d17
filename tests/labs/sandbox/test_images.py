"""Lab images: recipes, hashing, the cache, the build lock, ownership shifting and the ``kafaat image`` CLI."""

from __future__ import annotations

import json
import pathlib
import stat
import threading
import time

import pytest

from xblocks.labs.sandbox import images
from xblocks.labs.sandbox.base import ImageNotFound


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    """An extra recipe folder searched first (as ``IMAGE_RECIPE_DIRS`` would add), and an empty cache."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    monkeypatch.setenv("KAFAAT_IMAGE_RECIPE_DIRS", json.dumps([str(folder)]))
    monkeypatch.setenv("KAFAAT_IMAGE_CACHE", str(tmp_path / "cache"))

    def write(name: str, **recipe):
        (folder / name).mkdir(exist_ok=True)
        (folder / name / "recipe.json").write_text(json.dumps(recipe))
        return folder / name / "recipe.json"

    return write


def test_the_package_ships_base_and_web_and_web_extends_base():
    assert {"base", "web"} <= set(images.recipe_names())
    base, web = images.load_recipe("base"), images.load_recipe("web")
    assert {"bash", "python3", "git", "curl", "sudo", "strace", "ca-certificates", "iproute2"} <= set(base.packages)
    assert set(base.packages) | {"nginx"} == set(web.packages)
    assert web.parents == ("base",) and web.setup[: len(base.setup)] == base.setup


def test_the_hash_changes_with_the_recipe_and_only_then(recipes):
    recipes("toy", packages=["less"], setup=["true"])
    first = images.load_recipe("toy").hash
    assert images.load_recipe("toy").hash == first
    recipes("toy", packages=["less"], setup=["true", "echo changed"])
    assert images.load_recipe("toy").hash != first


def test_a_recipe_folder_from_settings_wins_over_the_package(recipes):
    recipes("base", packages=["less"], description="site override")
    assert images.load_recipe("base").description == "site override"


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"packages": [], "bogus": 1}, "unknown keys"),
        ({"files": {"relative/path": "x"}}, "must be absolute"),
        ({"files": {"/etc/../../x": "x"}}, "must be absolute"),
        ({"extends": "loop"}, "loop"),
    ],
)
def test_broken_recipes_are_refused_with_the_reason(recipes, recipe, message):
    recipes("loop", **recipe)
    with pytest.raises(images.ImageBuildError, match=message):
        images.load_recipe("loop")


@pytest.mark.parametrize("name", ["../etc", "Base", "", "a/b", "nonexistent-image"])
def test_unknown_or_malformed_image_names_are_not_found(recipes, name):
    with pytest.raises(ImageNotFound):
        images.find(name)


def test_the_mirror_comes_from_the_hosts_apt_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("KAFAAT_IMAGE_MIRROR", raising=False)
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert images.apt_mirror([deb822]) == "http://mirror.example/debian"
    assert images.apt_mirror([one_line]) == "http://other.example/debian"
    assert images.apt_mirror([tmp_path / "missing"]) == images.DEFAULT_MIRROR
    monkeypatch.setenv("KAFAAT_IMAGE_MIRROR", "http://pinned.example/debian")
    assert images.apt_mirror([deb822]) == "http://pinned.example/debian"


@pytest.mark.sandbox
def test_each_sandbox_sees_the_shared_image_owned_by_its_own_id_range(make_sandbox, local_backend):
    a, b = make_sandbox(), make_sandbox()
    inside = [local_backend.exec(h, "stat -c '%u %g' / /home/learner /usr/bin/sudo").stdout for h in (a, b)]
    assert inside == ["0 0\n1000 1000\n0 0\n"] * 2
    folder = pathlib.Path(local_backend.settings.SANDBOX_ROOT)
    hosts = [(folder / h.id / "root" / "home/learner").stat().st_uid for h in (a, b)]
    assert hosts == [a.data["uid_base"] + 1000, b.data["uid_base"] + 1000] and hosts[0] != hosts[1]


def test_recipe_files_cannot_be_written_through_a_symlink_out_of_the_image(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "escape").symlink_to("../..")
    (root / "inner").symlink_to("/etc")  # absolute targets resolve inside the image, as in the sandbox
    assert images._inside(root, "/inner/motd") == root / "etc" / "motd"
    with pytest.raises(images.ImageBuildError):
        images._inside(root, "/escape/owned")


def test_concurrent_builds_of_one_image_wait_for_each_other(tmp_path):
    order = []
    lock = tmp_path / "x.lock"

    def builder(name, hold):
        with images._locked(lock, lambda message: order.append((name, message))):
            order.append((name, "in"))
            time.sleep(hold)
            order.append((name, "out"))

    first = threading.Thread(target=builder, args=("first", 0.3))
    first.start()
    time.sleep(0.05)
    builder("second", 0)
    first.join()
    assert order == [
        ("first", "in"),
        ("second", "another build of this image is running; waiting for it"),
        ("first", "out"),
        ("second", "in"),
        ("second", "out"),
    ]


@pytest.mark.sandbox
def test_building_a_built_image_is_a_cache_hit(local_backend, capsys):
    started = time.monotonic()
    image = images.build("base", stream=__import__("sys").stdout)
    assert image.built and time.monotonic() - started < 5
    assert "already built" in capsys.readouterr().out
    # stored with the build's owners; each sandbox sees them through an idmapped mount of its own
    assert (image.rootfs / "home" / "learner").stat().st_uid == 1000
    assert (image.rootfs / "usr/bin/sudo").stat().st_uid == 0
    assert stat.S_IMODE(image.path.parent.stat().st_mode) == 0o700  # host users cannot reach its setuid files
    assert not (image.rootfs / "usr/share/man").exists() or not any((image.rootfs / "usr/share/man").iterdir())


@pytest.mark.sandbox
def test_kafaat_image_list_shows_each_image_with_hash_state_size_and_path(local_backend, capsys):
    from xblocks.cli import main

    assert main(["image", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "RECIPE", "BUILT", "SIZE", "PATH"]
    base = next(line.split() for line in lines if line.startswith("base "))
    assert base[1] == images.find("base").hash and base[2] == "yes" and base[-1].endswith(f"base-{base[1]}")


def test_prune_removes_old_recipe_images_but_keeps_current_and_in_use_ones(recipes, tmp_path):
    recipes("toy", packages=["less"])
    cache = images.cache_dir()
    current = cache / f"toy-{images.load_recipe('toy').hash}"
    old, used, abandoned = cache / "toy-000000000000", cache / "toy-111111111111", cache / ".build-toy-x-999999999"
    for folder in (current, old, used, abandoned):
        (folder / "rootfs").mkdir(parents=True)
    assert images.prune({"toy-111111111111"}, dry_run=True) == [abandoned, old]
    assert old.exists()
    images.prune({"toy-111111111111"})
    assert current.exists() and used.exists() and not old.exists() and not abandoned.exists()
