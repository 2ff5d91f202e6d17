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
    assert images.apt_mirror([deb822], codename="bookworm") == "http://mirror.example/debian"
    assert images.apt_mirror([one_line], codename="bookworm") == "http://other.example/debian"
    assert images.apt_mirror([tmp_path / "missing"], codename="bookworm") == images.DEFAULT_MIRROR
    monkeypatch.setenv("KAFAAT_IMAGE_MIRROR", "http://pinned.example/debian")
    assert images.apt_mirror([deb822], codename="bookworm") == "http://pinned.example/debian"


def test_an_image_installs_from_the_hosts_debian_sources_renamed_to_its_release(tmp_path, monkeypatch):
    monkeypatch.delenv("KAFAAT_IMAGE_MIRROR", raising=False)
    (tmp_path / "debian.sources").write_text(
        "Types: deb\nURIs: http://cache.example:3142/debian\nSuites: bookworm bookworm-updates bookworm-backports\n"
        "Components: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://cache.example:3142/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb-src\nURIs: http://cache.example:3142/debian\nSuites: bookworm\nComponents: main\n"
    )
    nodesource = "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"
    (tmp_path / "nodesource.sources").write_text(nodesource)
    (tmp_path / "cloud.list").write_text("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n")
    paths = sorted(tmp_path.iterdir())
    sources = images.apt_sources("trixie", paths, codename="bookworm")
    # the host's own mirror (a caching proxy here), its release's suites renamed; third-party and backports left out
    assert [(s.uri, s.suites, s.components) for s in sources] == [
        ("http://cache.example:3142/debian", ("trixie", "trixie-updates"), ("main", "contrib")),
        ("http://cache.example:3142/debian-security", ("trixie-security",), ("main",)),
    ]
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/share/keyrings").mkdir(parents=True)
    (rootfs / "usr/share/keyrings/debian-archive-keyring.gpg").write_bytes(b"")
    written = images._sources_file(sources, rootfs)
    assert "Suites: trixie trixie-updates\n" in written and written.count("Signed-By:") == 1
    # IMAGE_MIRROR replaces the archive, never the security mirror
    monkeypatch.setenv("KAFAAT_IMAGE_MIRROR", "http://pinned.example/debian/")
    assert [s.uri for s in images.apt_sources("bookworm", paths, codename="bookworm")] == [
        "http://pinned.example/debian",
        "http://cache.example:3142/debian-security",
    ]
    # a host without Debian sources of its own: the public mirrors, security included
    fallback = images.apt_sources("bookworm", [tmp_path / "nodesource.sources"], codename="bookworm")
    assert [s.uri for s in fallback] == ["http://pinned.example/debian", images.DEFAULT_SECURITY_MIRROR]


def test_apt_status_lines_become_package_counts_and_name_the_package_that_failed():
    said = []
    lines = images._AptLines(said.append, "install")
    for line in [
        "0 upgraded, 3 newly installed, 0 to remove and 0 not upgraded.",
        "pmstatus:dpkg-exec:0.0000:Running dpkg",
        "pmstatus:libfoo1:10.0:Unpacking libfoo1 (amd64)",
        "pmstatus:libfoo1:amd64:20.0:Installed libfoo1 (amd64)",  # multiarch names carry their arch
        "pmstatus:foo:30.0:Unpacking foo (amd64)",
        "pmerror:foo:40.0:installed foo package post-installation script subprocess returned error exit status 1",
    ]:
        lines(line)
    assert said[0] == "  3 packages to install"
    assert said[1].startswith("    0%: unpacked 0/3, set up 0/3")
    assert "error: installed foo package post-installation script" in said[-1]
    assert lines.culprit == "foo" and lines.unpacked == {"libfoo1", "foo"} and lines.configured == {"libfoo1"}
    missing = images._AptLines(said.append, "download")
    missing("E: Unable to locate package python3-nonesuch")
    assert missing.culprit == "python3-nonesuch"
    fetch = images._AptLines(said.append, "download")
    fetch("E: Failed to fetch http://deb.debian.org/debian/pool/main/n/nginx/nginx_1.22.1-9_amd64.deb  404  Not Found")
    assert fetch.culprit == "nginx"


def test_a_failed_step_names_its_phase_and_package_and_keeps_the_tail():
    lines = images._AptLines(lambda _: None, "install")
    lines("pmerror:postgresql-15:80.0:subprocess returned error exit status 1")
    with pytest.raises(images.ImageBuildError) as raised:
        with images._phase("install", lines):
            raise images._StepFailed("apt-get exited with 100", lines)
    message = str(raised.value)
    assert message.startswith("build failed in phase 'install', package postgresql-15: apt-get exited with 100")
    assert message.endswith("pmerror:postgresql-15:80.0:subprocess returned error exit status 1")


def test_a_recipe_file_can_come_from_beside_the_recipe_and_its_text_is_hashed(recipes):
    source = recipes("toy", files={"/usr/local/bin/app": {"from": "app.py"}})
    (source.parent / "app.py").write_text("print('v1')\n")
    first = images.load_recipe("toy")
    assert dict(first.files)["/usr/local/bin/app"] == "print('v1')\n"
    (source.parent / "app.py").write_text("print('v2')\n")
    assert images.load_recipe("toy").hash != first.hash
    for bad in ("../secret", ".hidden", "", "sub/dir"):
        recipes("toy", files={"/x": {"from": bad}})
        with pytest.raises(images.ImageBuildError, match="'from' must name a file"):
            images.load_recipe("toy")


def test_excluded_paths_add_up_along_extends_and_only_a_recipe_with_some_hashes_them(recipes):
    recipes("parent", packages=["less"], exclude=["/usr/include/*"])
    recipes("child", extends="parent", exclude=["/usr/lib/gcc/*"])
    assert images.load_recipe("child").exclude == ("/usr/include/*", "/usr/lib/gcc/*")
    recipes("plain", packages=["less"])
    assert "exclude" not in images.load_recipe("plain").fingerprint()  # existing images keep their hash
    recipes("bad", exclude=["usr/include"])
    with pytest.raises(images.ImageBuildError, match="absolute path glob"):
        images.load_recipe("bad")


def test_the_domain_images_extend_base_with_their_tools():
    expected = {
        "data": {"python3-pandas", "sqlite3", "postgresql"},
        "ai": {"python3-sklearn", "python3-matplotlib", "jupyter-notebook", "jupyter-nbconvert", "python3-pandas"},
        "testing": {"python3-pytest", "python3-coverage", "python3-requests"},
        "cloud": {"nginx", "ansible-core", "awscli", "git"},
        "security": {"nmap", "openssl", "lnav", "python3"},
    }
    base = images.load_recipe("base")
    for name, tools in expected.items():
        recipe = images.load_recipe(name)
        assert recipe.parents == ("base",) and tools <= set(recipe.packages), name
        assert set(base.packages) <= set(recipe.packages) and recipe.setup[: len(base.setup)] == base.setup


@pytest.mark.sandbox
def test_each_sandbox_sees_the_shared_image_owned_by_its_own_id_range(make_sandbox, local_backend):
    a, b = make_sandbox(), make_sandbox()
    inside = [local_backend.exec(h, "stat -c '%u %g' / /home/learner /usr/bin/sudo").stdout for h in (a, b)]
    assert inside == ["0 0\n1000 1000\n0 0\n"] * 2
    # the root as host root sees it, through the init (its mounts are in the sandbox's own namespace)
    hosts = [pathlib.Path(f"/proc/{h.data['pid']}/root/home/learner").stat().st_uid for h in (a, b)]
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


@pytest.mark.sandbox
def test_a_failed_build_names_its_phase_and_package_and_leaves_no_image(local_backend, tmp_path, monkeypatch):
    folder = tmp_path / "recipes" / "kafaat-test-broken"
    folder.mkdir(parents=True)
    (folder / "recipe.json").write_text(json.dumps({"extends": "base", "packages": ["kafaat-no-such-package"]}))
    monkeypatch.setenv("KAFAAT_IMAGE_RECIPE_DIRS", json.dumps([str(tmp_path / "recipes")]))
    said = []
    with pytest.raises(images.ImageBuildError) as raised:
        images.build("kafaat-test-broken", progress=said.append)
    assert str(raised.value).startswith("build failed in phase 'download', package kafaat-no-such-package")
    assert "Unable to locate package kafaat-no-such-package" in str(raised.value)
    assert said[0].startswith("phase 1/6 copy of the parent image base-")  # on base's copy, no debootstrap
    left = [entry.name for entry in images.cache_dir().iterdir() if "kafaat-test-broken" in entry.name]
    assert [name for name in left if not name.endswith(".lock")] == []


@pytest.mark.sandbox
def test_kafaat_image_build_reports_progress_on_stderr(local_backend, capsys):
    from xblocks.cli import main

    assert main(["image", "build", "base"]) == 0
    captured = capsys.readouterr()
    assert "base: already built" in captured.err and "already built" not in captured.out
