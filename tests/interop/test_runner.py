"""The interop tier's runner: a loud skip where node is absent, a failure where its modules are missing."""

import pytest

from tests.interop import runner


def test_without_node_the_tier_is_skipped_and_says_what_went_unchecked(monkeypatch):
    monkeypatch.setattr(runner.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="INTEROP TIER SKIPPED: node is not installed"):
        runner.node()


def test_with_node_but_without_its_modules_the_tier_fails_and_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(runner.shutil, "which", lambda name: "/usr/bin/node")
    monkeypatch.setattr(runner, "STAMP", tmp_path / "missing")
    with pytest.raises(pytest.fail.Exception, match="make interop"):
        runner.node()
