"""Transcripts are asciinema v2 casts, capped in size; history is the lines the learner typed."""

import json

import pytest

from xblocks.labs.terminal import api
from xblocks.labs.terminal.recording import LineEditor, Recorder


@pytest.mark.parametrize(
    ("keys", "lines"),
    [
        (b"echo hello\r", [b"echo hello"]),
        (b"ls\rpwd\r", [b"ls", b"pwd"]),
        (b"lss\x7f -l\r", [b"ls -l"]),
        (b"rm -rf /\x15whoami\r", [b"whoami"]),
        (b"sleep 100\x03ls\r", [b"ls"]),
        (b"git commit\x17status\r", [b"git status"]),
        (b"ls\x1b[A\x1b[D\x1bOA -a\r", [b"ls -a"]),
        ("caf\u00e9\x7fe\r".encode(), [b"cafe"]),
        (b"no newline yet", []),
    ],
)
def test_line_editor_replays_the_edits_a_shell_would(keys, lines):
    assert LineEditor().feed(keys) == lines


def test_line_editor_keeps_a_line_across_frames():
    editor = LineEditor()
    assert editor.feed(b"ech") == []
    assert editor.feed(b"o hi\r") == [b"echo hi"]


def test_recorder_writes_asciinema_events_relative_to_the_start():
    clock = iter([100.5, 101.25, 102.0]).__next__
    recorder = Recorder(started_at=100.0, size=0, truncated=False, max_bytes=10_000, clock=clock)
    recorder.input(b"ls\r")
    recorder.output(b"file\xff\r\n")
    recorder.resize(120, 40)
    seq, events, history = recorder.take()
    assert seq == 1
    assert [json.loads(line) for line in events.splitlines()] == [
        [0.5, "i", "ls\r"],
        [1.25, "o", "file\ufffd\r\n"],
        [2.0, "r", "120x40"],
    ]
    assert history == b"ls\n"
    assert recorder.take() == (2, "", b"")


def test_recorder_stops_at_its_cap_and_marks_the_cut_once():
    recorder = Recorder(started_at=0.0, size=0, truncated=False, max_bytes=200, clock=lambda: 1.0)
    for _ in range(100):
        recorder.output(b"y\n" * 10)
    _seq, events, _history = recorder.take()
    lines = [json.loads(line) for line in events.splitlines()]
    assert lines[-1] == [1.0, "m", "transcript truncated"]
    assert sum(line[1] == "m" for line in lines) == 1
    assert recorder.truncated and len(events) <= 300
    recorder.output(b"more")
    assert not recorder.pending()


@pytest.mark.django_db
@pytest.mark.mariadb
def test_transcript_is_a_cast_with_header_and_chunks_in_order():
    assert api.open_transcript(7, 100, 30).next_seq == 1
    api.append_transcript(7, 2, '[0.2,"o","b"]\n', b"echo b\n", size=28, truncated=False)
    api.append_transcript(7, 1, '[0.1,"o","a"]\n', b"ls\n", size=14, truncated=False)  # flushes may land late
    cast = api.transcript(7).splitlines()
    header = json.loads(cast[0])
    assert header["version"] == 2 and (header["width"], header["height"]) == (100, 30)
    assert [json.loads(line)[2] for line in cast[1:]] == ["a", "b"]
    assert api.command_history(7) == b"ls\necho b\n"
    state = api.open_transcript(7, 80, 24)
    assert (state.next_seq, state.history_size, state.size) == (3, 10, 28)
    assert api.transcript(8) is None and api.command_history(8) == b""


def test_history_is_capped_across_the_session():
    recorder = Recorder(started_at=0.0, max_bytes=10_000, history_size=5, max_history=12, clock=lambda: 1.0)
    recorder.input(b"0123\rabcdef\rmore\r")
    _seq, _events, history = recorder.take()
    assert history == b"0123\nab"
