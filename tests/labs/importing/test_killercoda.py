"""``kafaat lab import killercoda``: scenario folders become labs that validate and run, hostile folders are refused.

The fixtures under tests/labs/fixtures/killercoda/ are scenarios written for these tests in Killercoda's
and Katacoda's format; hostile folders are made in each test's tmp_path (links, FIFOs, huge files).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from xblocks.cli import main
from xblocks.labs.definition import parse_lab
from xblocks.labs.importing.killercoda import ScenarioError, import_path, import_scenario, knows_services

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "labs" / "fixtures" / "killercoda"
COURSE = FIXTURES / "linux-basics"
FILES = COURSE / "files-and-permissions"
WEB = COURSE / "web-service"
KATACODA = COURSE / "katacoda-grep"


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def _lab(path, **kwargs):
    return parse_lab(import_scenario(path, **kwargs).olx)


def _scenario(tmp_path, index=None, files=None, name="scenario") -> pathlib.Path:
    """A minimal valid scenario in tmp_path/NAME, with index.json and files replaced as given."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    data = {
        "title": "Minimal",
        "details": {"steps": [{"title": "One", "text": "step1.md", "verify": "verify.sh"}]},
        "backend": {"imageid": "ubuntu"},
    }
    if index is not None:
        data = index
    (folder / "index.json").write_text(json.dumps(data) if not isinstance(data, str) else data, "utf-8")
    contents = {"step1.md": "Make it:\n\n`touch /root/done`{{exec}}\n", "verify.sh": "test -f /root/done\n"}
    contents.update(files or {})
    for name, content in contents.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, "utf-8")
    return folder


def _refusal(path, **kwargs) -> str:
    with pytest.raises(ScenarioError) as caught:
        import_scenario(path, **kwargs)
    return "\n".join(caught.value.reasons)


# ---------------------------------------------------------------------------------------------------
# The mapping, on realistic scenarios


def test_a_killercoda_scenario_maps_every_field():
    lab = _lab(FILES)
    assert lab.display_name == "Files, logs and permissions"
    assert lab.lab_key == "files-and-permissions"
    assert lab.image == "base" and lab.learner_sudo
    # description and intro text; the intro background is the lab's setup
    assert lab.intro.startswith("Make folders, find an error code")
    assert "# Working with files" in lab.intro
    assert [setup.script for setup in lab.setup] == [
        '#!/bin/bash\necho "Files lab: your work is in /root" > /etc/motd\ntouch /tmp/.intro-ready'
    ]
    assert "Well done" in lab.finish
    assert lab.foreground == "cd /root && clear"  # typed into the terminal when it opens
    # assets: a glob, a ~ target, an octal chmod, a folder with +x
    files = {item.path: item for item in lab.files}
    assert set(files) == {
        "/home/learner/.bash_profile",
        "/root/bin/hello.sh",
        "/root/bin/bye.sh",
        "/root/notes.txt",
        "/opt/tools/tool.sh",
    }
    assert files["/root/bin/hello.sh"].content == '#!/bin/bash\necho "Hello from Kafaat & friends <3"\n'
    assert files["/root/bin/hello.sh"].mode == 0o644 and files["/root/bin/hello.sh"].owner == "root"
    assert files["/root/notes.txt"].mode == 0o600
    assert files["/opt/tools/tool.sh"].mode == 0o755
    assert "exec sudo -i" in files["/home/learner/.bash_profile"].content
    # steps: verify as a root check with a timeout, background as step setup, a reading step
    one, two, three, four = lab.steps
    assert (one.id, one.title) == ("step1", "Make a project folder")
    check = one.checks[0]
    assert (check.id, check.user, check.timeout, check.points) == ("step1-verify", "root", 30.0, 1)
    assert check.script == "#!/bin/bash\ntest -d /root/project"
    assert two.setup[0].user == "root" and "E4242" in two.setup[0].script
    assert not four.graded and four.solve is None


def test_commands_become_blocks_the_page_can_copy_and_run():
    lab = _lab(FILES)
    one, two, three, _four = lab.steps
    # an inline {{exec}} alone on its line becomes a command block; {{}} and {{copy}} stay inline code
    assert "```\nmkdir -p ~/project\n```" in one.instructions
    assert "`ls -la ~`: the copyable form is `ls -la ~`." in one.instructions
    assert "{{" not in one.instructions + two.instructions + three.instructions
    # a fenced {{exec}} block keeps its language
    assert "```bash\ngrep ERROR /var/log/shop/app.log\n```" in two.instructions
    # {{exec interrupt}}: the learner is told to press Ctrl-C first
    assert "Ctrl-C" in three.instructions
    assert three.instructions.index("Ctrl-C") < three.instructions.index("chmod +x ~/bin/hello.sh")


def test_details_become_hints_and_exec_commands_the_solve():
    lab = _lab(FILES)
    two = lab.steps[1]
    assert "<details>" not in two.instructions and "Solution" not in two.instructions
    assert [hint.text.splitlines()[0] for hint in two.hints] == ["**Tip**", "**Solution**"]
    assert "grep -o 'E[0-9]\\{4\\}' /var/log/shop/app.log > ~/answer.txt" in two.hints[1].text
    assert two.solve_user == "root"
    assert two.solve.splitlines()[1:] == [
        "grep ERROR /var/log/shop/app.log",
        "grep -o 'E[0-9]\\{4\\}' /var/log/shop/app.log > ~/answer.txt",
    ]
    # the command that {{exec interrupt}} stops runs a few seconds, not for ever
    three = lab.steps[2]
    assert (
        "timeout -s INT 3 bash <<'KAFAAT_INTERRUPTED' || true\ntail -f ~/notes.txt\nKAFAAT_INTERRUPTED" in three.solve
    )


def test_step_folders_traffic_placeholders_and_xml_special_characters():
    imported = import_scenario(WEB)
    lab = parse_lab(imported.olx)
    one, two = lab.steps
    # step folders (step1/text.md, step1/verify.sh ...); the foreground script is typed when the step is reached
    assert one.instructions.startswith("A template waits")
    assert one.foreground == "cd /srv/site\nls"
    assert one.setup[0].script.endswith("chmod 0755 /srv/site")
    # a CDATA terminator and XML specials survive exactly
    assert "[[ -s $page ]]>/dev/null || exit 1" in one.checks[0].script
    assert "ok & done" in one.checks[0].script
    page = next(item for item in lab.files if item.path == "/srv/site/template.html")
    assert page.content.startswith("<!DOCTYPE html>") and "&lt;3 ]]> served" in page.content
    # line highlights are dropped, and named
    assert "```bash\nsed -i" in one.instructions
    assert any("hl_lines" in note.item for note in imported.notes)
    # traffic placeholders point at the service tab of the port
    assert "open the page (the **Port 8080** tab beside the terminal)" in two.instructions
    assert "the service tabs beside the terminal" in lab.intro
    # in a command, a traffic placeholder is the address inside the lab (and the solve uses it)
    assert "curl -fs http://127.0.0.1:8080 && break" in two.instructions and "TRAFFIC" not in two.solve
    assert "curl -fs http://127.0.0.1:8080 && break" in two.solve
    dropped = " ".join(note.item + " " + note.reason for note in imported.notes)
    assert "finish background" in dropped
    if knows_services():
        assert '<service id="port-8080" machine="lab" port="8080" path="/"' in imported.olx
        assert 'kind="editor"' not in imported.olx  # it works as the learner; the work is root's
    else:  # until the services work is merged, the tabs are named as dropped
        assert "<service" not in imported.olx
        assert "Port 8080" in dropped


def test_service_tabs_are_named_as_dropped_where_the_lab_format_has_no_service():
    imported = import_scenario(WEB, services=False)
    assert "<service" not in imported.olx and imported.services == []
    dropped = {note.item: note.reason for note in imported.notes}
    assert "does not know <service>" in dropped["the service tab Port 8080"]
    assert "as the learner" in dropped["the layout ide"]
    parse_lab(imported.olx)


def test_katacoda_fields_and_actions():
    imported = import_scenario(KATACODA)
    lab = parse_lab(imported.olx)
    assert [setup.script for setup in lab.setup] == ["mkdir -p /root/reports"]  # intro courseData
    assert lab.foreground == "cd /root"  # intro code: the foreground script
    step = lab.steps[0]
    assert step.foreground == "head -n 3 ~/access.log"
    assert "```\ngrep -c '^10.0.0.7 ' ~/access.log > ~/reports/count.txt\n```" in step.instructions
    assert "`access.log`" in step.instructions and "{{open}}" not in step.instructions
    assert "/root/access.log" in {item.path for item in lab.files}
    notes = [note.item for note in imported.notes]
    assert any("{{open}}" in item for item in notes) and any("{{execute T2}}" in item for item in notes)
    assert any("terminal" in item for item in notes)  # the uilayout
    # fields with no Kafaat meaning are named, not silently lost
    assert {"index.json.pathwayTitle", "index.json.difficulty", "index.json.time"} <= set(notes)
    assert "environment.hideHiddenObjects" in notes
    # Katacoda's dashboards and written-out port addresses are the service tab of that port
    assert "open the **Port 8000** tab beside the terminal" in lab.finish and "katacoda.com" not in imported.olx
    if knows_services():
        assert '<service id="port-8000" machine="lab" port="8000" path="/" label="Report" kind="web"/>' in imported.olx


def test_small_relative_images_travel_inside_the_lab_as_data_uris():
    imported = import_scenario(FILES)
    assert "![The terminal on the right](data:image/png;base64,iVBORw0KGgo" in parse_lab(imported.olx).intro
    web = parse_lab(import_scenario(WEB).olx)  # relative to step1/text.md
    assert "![How a request reaches the page](data:image/gif;base64,R0lGOD" in web.steps[0].instructions


def test_images_that_cannot_travel_are_named_and_replaced_by_their_description(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG)
    text = "\n\n".join(
        [
            "Make it: `touch /root/done`{{exec}}",
            "![vector](pic.svg)",
            "![big](big.png)",
            "![outside](../secret.png)",
            "![linked](linked.png)",
            "![missing](nowhere.png)",
            "![remote](https://example.org/pic.png)",
        ]
    )
    folder = _scenario(
        tmp_path,
        files={
            "step1.md": text,
            "pic.svg": "<svg onload='alert(1)'/>",
            "big.png": PNG + b"\0" * (30 * 1024),
        },
    )
    (folder / "linked.png").symlink_to(secret)
    imported = import_scenario(folder)
    step = parse_lab(imported.olx).steps[0]
    for alt in ("vector", "big", "outside", "linked", "missing"):
        assert f"*(image: {alt})*" in step.instructions
    assert "![remote](https://example.org/pic.png)" in step.instructions
    assert "data:" not in imported.olx and "alert" not in imported.olx
    reasons = {note.item.split(": ", 1)[1]: note.reason for note in imported.notes}
    assert "SVG" in reasons["the image pic.svg"]
    assert "refused before reading" in reasons["the image big.png"]
    assert "outside the scenario folder" in reasons["the image ../secret.png"]
    assert "symbolic link" in reasons["the image linked.png"]


def test_the_images_of_one_text_share_a_budget(tmp_path):
    image = PNG + b"\0" * (20 * 1024)
    text = "Make it: `touch /root/done`{{exec}}\n\n![one](one.png)\n\n![two](two.png)\n\n![three](three.png)"
    folder = _scenario(tmp_path, files={"step1.md": text, "one.png": image, "two.png": image, "three.png": image})
    imported = import_scenario(folder)
    step = parse_lab(imported.olx).steps[0]
    assert step.instructions.count("data:image/png;base64,") == 1
    assert sum("together" in note.reason for note in imported.notes) == 2


def test_a_folder_of_scenarios_is_a_course_of_labs_in_structure_order():
    result = import_path(COURSE)
    assert result.course and not result.refused
    assert [lab.lab_key for lab in result.labs] == ["files-and-permissions", "web-service", "katacoda-grep"]
    assert result.olx.startswith('<sequential display_name="linux-basics" url_name="linux-basics">')
    assert result.olx.count("<vertical ") == 3
    assert '<kafaat_lab url_name="web-service" display_name=' in result.olx


# ---------------------------------------------------------------------------------------------------
# Images and what a rootless sandbox cannot run


def test_kubernetes_and_docker_are_refused_one_line_per_reason():
    kubernetes = _refusal(FIXTURES / "refused" / "kubernetes-pods")
    assert kubernetes.count("\n") == 0 and "kubernetes-kubeadm-2nodes is a Kubernetes cluster" in kubernetes
    docker = _refusal(FIXTURES / "refused" / "docker-run")
    assert docker == (
        "The scenario runs docker: a container engine needs privileges that a rootless sandbox does not give."
    )


@pytest.mark.parametrize("image", ["docker", "kubernetes-kubeadm-1node", "kubernetes-k3s-1node"])
def test_container_images_are_refused(tmp_path, image):
    folder = _scenario(tmp_path)
    data = json.loads((folder / "index.json").read_text())
    data["backend"]["imageid"] = image
    (folder / "index.json").write_text(json.dumps(data))
    assert image in _refusal(folder)


def test_an_unknown_image_is_refused_unless_an_image_is_named(tmp_path):
    folder = _scenario(tmp_path)
    data = json.loads((folder / "index.json").read_text())
    data["backend"]["imageid"] = "gentoo-custom"
    (folder / "index.json").write_text(json.dumps(data))
    assert "--machine-image" in _refusal(folder)
    assert _lab(folder, machine_image="web").image == "web"


def test_machine_image_replaces_base_for_ubuntu(tmp_path):
    assert _lab(_scenario(tmp_path), machine_image="web").image == "web"


def test_a_scenario_without_any_verify_script_is_refused(tmp_path):
    folder = _scenario(tmp_path, index={"title": "t", "details": {"steps": [{"title": "a", "text": "step1.md"}]}})
    assert "No step has a verify script" in _refusal(folder)


# ---------------------------------------------------------------------------------------------------
# Hostile folders


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "step1/../../outside.md", "a\\..\\b"])
def test_paths_that_climb_out_of_the_folder_are_refused(tmp_path, name):
    (tmp_path / "outside.md").write_text("secret outside")
    index = {"title": "t", "details": {"steps": [{"title": "a", "text": name, "verify": "verify.sh"}]}}
    reasons = _refusal(_scenario(tmp_path, index=index))
    assert "outside the scenario folder" in reasons


def test_a_symbolic_link_to_a_text_or_a_step_folder_is_refused_unread(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    folder = _scenario(tmp_path)
    (folder / "step1.md").unlink()
    (folder / "step1.md").symlink_to(secret)
    assert "symbolic link" in _refusal(folder)
    shutil.rmtree(folder)
    index = {"title": "t", "details": {"steps": [{"title": "a", "text": "step1/text.md", "verify": "verify.sh"}]}}
    folder = _scenario(tmp_path, index=index)
    (folder / "step1").symlink_to(tmp_path)
    (tmp_path / "text.md").write_text("TOP-SECRET")
    assert "symbolic link" in _refusal(folder)


def test_index_json_as_a_link_is_refused(tmp_path):
    folder = _scenario(tmp_path)
    (tmp_path / "real.json").write_text((folder / "index.json").read_text())
    (folder / "index.json").unlink()
    (folder / "index.json").symlink_to(tmp_path / "real.json")
    assert "symbolic link" in _refusal(folder)


def test_linked_assets_are_dropped_unread_and_named(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    (tmp_path / "secret-dir").mkdir()
    (tmp_path / "secret-dir" / "key").write_text("TOP-SECRET")
    index = {
        "title": "t",
        "details": {
            "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
            "assets": {"host01": [{"file": "*", "target": "~/"}]},
        },
    }
    folder = _scenario(tmp_path, index=index, files={"assets/ok.txt": "fine\n"})
    (folder / "assets" / "link.txt").symlink_to(secret)
    (folder / "assets" / "dir").symlink_to(tmp_path / "secret-dir")
    imported = import_scenario(folder)
    assert "TOP-SECRET" not in imported.olx
    assert "/root/ok.txt" in {item.path for item in parse_lab(imported.olx).files}
    assert sum("symbolic link" in note.reason for note in imported.notes) == 2


def test_huge_and_binary_assets_are_dropped_and_named(tmp_path):
    index = {
        "title": "t",
        "details": {
            "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
            "assets": {"host01": [{"file": "*.bin", "target": "/srv"}, {"file": "ok.txt", "target": "/srv"}]},
        },
    }
    folder = _scenario(
        tmp_path,
        index=index,
        files={"assets/huge.bin": "x" * (300 * 1024), "assets/blob.bin": b"\x00\x01\xff", "assets/ok.txt": "ok"},
    )
    imported = import_scenario(folder)
    reasons = {note.item: note.reason for note in imported.notes}
    assert "refused before reading" in reasons["the asset huge.bin"]
    assert "blob.bin" in " ".join(reasons)
    assert [item.path for item in parse_lab(imported.olx).files if item.path.startswith("/srv")] == ["/srv/ok.txt"]


def test_an_asset_pattern_climbing_out_is_refused(tmp_path):
    index = {
        "title": "t",
        "details": {
            "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
            "assets": {"host01": [{"file": "../index.json", "target": "/srv"}]},
        },
    }
    assert "outside the scenario's assets folder" in _refusal(_scenario(tmp_path, index=index))


def test_huge_index_json_is_refused_before_reading(tmp_path):
    folder = _scenario(tmp_path, index='{"title": "' + "x" * (300 * 1024) + '"}')
    assert "refused before reading" in _refusal(folder)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"title": "t", "details": {', "not valid JSON"),
        ("[" * 50000 + "]" * 50000, "nested too deeply"),
        ('["a list"]', "must hold an object"),
        ('{"details": {"steps": "step1.md"}}', "details.steps must be a list"),
        ('{"details": {"steps": [{"title": 3, "text": "step1.md"}]}}', "must be a string"),
        ('{"details": []}', "details must be an object"),
    ],
)
def test_invalid_index_json_is_refused_with_a_clear_reason(tmp_path, text, expected):
    assert expected in _refusal(_scenario(tmp_path, index=text))


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    folder = _scenario(tmp_path)
    (folder / "step1.md").unlink()
    os.mkfifo(folder / "step1.md")
    assert "named pipe" in _refusal(folder)


def test_text_that_is_not_utf8_or_holds_control_characters_is_refused(tmp_path):
    folder = _scenario(tmp_path, files={"step1.md": b"caf\xe9"})
    assert "not UTF-8" in _refusal(folder)
    shutil.rmtree(folder)
    folder = _scenario(tmp_path, files={"verify.sh": "echo ok\nprintf '\x1b[32m'\n"})
    assert "U+001B on line 2" in _refusal(folder)


def test_lab_parameter_syntax_in_a_scenario_is_refused(tmp_path):
    folder = _scenario(tmp_path, files={"verify.sh": "echo {{ lab.param.secret }}\n"})
    assert "{{ lab." in _refusal(folder)


def test_unclosed_blocks_are_imported_and_named(tmp_path):
    text = "Do it:\n\n<details><summary>Solution</summary>\n\n```\ntouch /root/done\n```{{exec}}\n"
    imported = import_scenario(_scenario(tmp_path, files={"step1.md": text}))
    step = parse_lab(imported.olx).steps[0]
    assert step.solve.splitlines()[-1] == "touch /root/done"
    items = [note.item for note in imported.notes]
    assert any("unclosed <details>" in item for item in items)


def test_an_unclosed_code_block_is_closed_and_named(tmp_path):
    imported = import_scenario(_scenario(tmp_path, files={"step1.md": "Run:\n\n```\ntouch /root/done\n"}))
    assert parse_lab(imported.olx).steps[0].instructions.endswith("```\ntouch /root/done\n```")
    assert any("unclosed code block" in note.item for note in imported.notes)


def test_verify_scripts_that_never_end_get_a_timeout(tmp_path):
    lab = _lab(_scenario(tmp_path, files={"verify.sh": "while true; do sleep 1; done\n"}))
    assert lab.steps[0].checks[0].timeout == 30.0


# ---------------------------------------------------------------------------------------------------
# The command


def test_the_command_writes_olx_that_validates_and_a_json_report(tmp_path, capsys):
    out, report = tmp_path / "course.xml", tmp_path / "report.json"
    assert main(["lab", "import", "killercoda", str(COURSE), "--out", str(out), "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "imported web-service as lab web-service" in err
    assert "dropped: the finish background script" in err
    assert "3 labs imported, 0 refused" in err
    data = json.loads(report.read_text())
    assert [lab["lab_key"] for lab in data["labs"]] == ["files-and-permissions", "web-service", "katacoda-grep"]
    assert [bool(lab["dropped"]) for lab in data["labs"]] == [False, True, True]  # the first carried over whole
    assert main(["lab", "validate", str(out)]) == 0
    assert capsys.readouterr().out.count(": ok: ") == 3


def test_the_command_prints_one_lab_to_standard_output(capsys):
    assert main(["lab", "import", "killercoda", str(KATACODA)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<kafaat_lab display_name=") and parse_lab(out).lab_key == "katacoda-grep"


def test_the_command_exits_1_and_lists_refusals(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert main(["lab", "import", "killercoda", str(FIXTURES / "refused"), "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refused docker-run:" in captured.err and "refused kubernetes-pods:" in captured.err
    assert {item["folder"] for item in json.loads(report.read_text())["refused"]} == {"docker-run", "kubernetes-pods"}


def test_the_command_refuses_an_unknown_machine_image(capsys):
    assert main(["lab", "import", "killercoda", str(KATACODA), "--machine-image", "nope"]) == 2
    assert "unknown image nope" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# In real sandboxes


def _can_sandbox() -> bool:
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("bwrap", "nsenter", "unshare"))


@pytest.mark.sandbox
def test_imported_labs_fail_fresh_and_pass_after_their_emitted_solves(tmp_path, capsys):
    if not _can_sandbox():
        pytest.skip("needs root and bubblewrap")
    out = tmp_path / "course.xml"
    assert main(["lab", "import", "killercoda", str(COURSE), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["lab", "test", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("PASS ") == 3
    assert "step step1 fresh  check step1-verify: fails as expected" in printed
    assert "step step3 solved check step3-verify: passes" in printed


@pytest.mark.sandbox
def test_the_imported_terminal_opens_as_root_in_root(tmp_path):
    if not _can_sandbox():
        pytest.skip("needs root and bubblewrap")
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    lab = _lab(KATACODA)
    backend = get_backend()
    handle = runner.provision(backend, lab, label="kc-terminal")
    try:
        # what the terminal runs: a login shell of the learner (it reads ~/.bash_profile)
        shell = backend.exec(handle, "printf 'id -un; pwd; ls ~/access.log\\n' | bash -l", user="learner", timeout=20)
        assert shell.stdout.split() == ["root", "/root", "/root/access.log"], shell.stderr
        stay = backend.exec(handle, "KAFAAT_STAY_LEARNER=1 bash -l -c 'id -un'", user="learner", timeout=20)
        assert stay.stdout.strip() == "learner"
    finally:
        backend.destroy(handle)


@pytest.mark.parametrize(
    "script",
    ["echo ']]>'", "x=']]]]>'; y='<![CDATA[ & <tag> ]]>]]>'", "cat <<'EOF'\n<a href=\"?a=1&b=2\">]]></a>\nEOF"],
)
def test_cdata_terminators_and_markup_in_scripts_survive_exactly(tmp_path, script):
    lab = _lab(_scenario(tmp_path, files={"verify.sh": script + "\n"}))
    assert lab.steps[0].checks[0].script == script


def test_the_command_warns_when_a_course_file_is_over_what_validate_reads(tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    for name in ("one", "two", "three"):
        index = {
            "title": name,
            "details": {
                "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
                "assets": {"host01": [{"file": "data.txt", "target": "/srv"}]},
            },
        }
        _scenario(course, index=index, files={"assets/data.txt": "x" * 200_000}, name=name)
    out = tmp_path / "course.xml"
    assert main(["lab", "import", "killercoda", str(course), "--out", str(out)]) == 0
    assert "import the scenarios one by one" in capsys.readouterr().err
    assert out.stat().st_size > 512 * 1024


@pytest.mark.timeout(30)
def test_hostile_markdown_neither_exhausts_the_stack_nor_stalls(tmp_path):
    nested = "<details>\n" * 2500 + "`touch /root/done`{{exec}}\n" + "</details>\n" * 2500
    summaries = "<details>\n" + "<summary>" * 900 + "\n</details>\n"
    text = "Make it: `touch /root/done`{{exec}}\n\n" + nested + "\n" + summaries
    imported = import_scenario(_scenario(tmp_path, files={"step1.md": text}))
    assert any("nested more than" in note.item for note in imported.notes)
    parse_lab(imported.olx)


@pytest.mark.timeout(30)
def test_many_unclosed_details_are_read_in_one_pass(tmp_path):
    text = "Make it: `touch /root/done`{{exec}}\n\n" + "<details>\n" * 6000
    imported = import_scenario(_scenario(tmp_path, files={"step1.md": text}))
    assert parse_lab(imported.olx).steps[0].solve.endswith("touch /root/done")
    assert [note.item for note in imported.notes] == ["step 1: an unclosed <details> block"]


def test_asset_globs_match_whole_path_segments_and_folders_bring_their_files(tmp_path):
    index = {
        "title": "t",
        "details": {
            "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
            "assets": {
                "host01": [
                    {"file": "*.conf", "target": "/etc/app"},
                    {"file": "site/*", "target": "/srv"},
                    {"file": "lib", "target": "~/code", "chmod": "u+x,go-r"},
                ]
            },
        },
    }
    files = {
        "assets/a.conf": "a",
        "assets/deep/b.conf": "b",
        "assets/site/index.html": "<p>",
        "assets/site/css/main.css": "p{}",
        "assets/lib/one.sh": "1",
        "assets/lib/sub/two.sh": "2",
    }
    lab = _lab(_scenario(tmp_path, index=index, files=files))
    placed = {item.path: item.mode for item in lab.files}
    assert placed == {
        "/home/learner/.bash_profile": 0o644,
        "/etc/app/a.conf": 0o644,  # not deep/b.conf: * stays inside one segment
        "/srv/index.html": 0o644,
        "/srv/css/main.css": 0o644,
        "/root/code/lib/one.sh": 0o700,
        "/root/code/lib/sub/two.sh": 0o700,
    }


def test_too_many_steps_or_asset_files_are_refused_with_the_cap(tmp_path):
    steps = [{"title": f"s{n}", "text": "step1.md", "verify": "verify.sh"} for n in range(51)]
    assert "51 steps; a lab holds at most 50" in _refusal(
        _scenario(tmp_path, index={"title": "t", "details": {"steps": steps}})
    )
    shutil.rmtree(tmp_path / "scenario")
    index = {
        "title": "t",
        "details": {
            "steps": [{"title": "a", "text": "step1.md", "verify": "verify.sh"}],
            "assets": {"host01": [{"file": "*", "target": "/srv"}]},
        },
    }
    files = {f"assets/f{n}.txt": "x" for n in range(101)}
    assert "101 asset files; a lab holds at most 100" in _refusal(_scenario(tmp_path, index=index, files=files))


def test_a_course_skips_nothing_silently_and_follows_no_link(tmp_path):
    outside = _scenario(tmp_path, name="outside")
    course = tmp_path / "course"
    course.mkdir()
    _scenario(course, name="real")
    (course / "linked").symlink_to(outside)
    (course / "structure.json").write_text(
        json.dumps({"items": [{"path": "../outside"}, {"path": "linked"}, {"path": "real"}]})
    )
    result = import_path(course)
    assert [lab.folder for lab in result.labs] == ["real"]
    assert [item.folder for item in result.refused] == ["../outside", "linked"]
    assert "not a folder of this course" in result.refused[0].reasons[0]
    assert "symbolic link" in result.refused[1].reasons[0]
