"""The demo's broker folder: whole messages only, unreadable ones set aside, a full disk a clear error."""

from __future__ import annotations

import errno
import os
import uuid

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from demo import broker


@pytest.fixture
def queue_name():
    """A queue of this test only: kombu keeps the bindings it declared for the whole process."""
    return f"kafaat.labs.test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def folders(tmp_path):
    names = ("broker", "processed", "control", "unreadable")
    for name in names:
        (tmp_path / name).mkdir()
    return {name: tmp_path / name for name in names}


def _connection(folders) -> Connection:
    return Connection(
        "filesystem://",
        transport=broker.Transport,
        transport_options={
            "data_folder_in": str(folders["broker"]),
            "data_folder_out": str(folders["broker"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "bad_folder": str(folders["unreadable"]),
        },
    )


def test_messages_arrive_whole_and_leave_no_temporary_file(folders, queue_name):
    with _connection(folders) as connection:
        queue = connection.SimpleQueue(queue_name)
        for number in range(20):
            queue.put({"number": number, "padding": "x" * 10000})
        assert not [name for name in os.listdir(folders["broker"]) if name.startswith(".")]
        got = [queue.get(timeout=2) for _ in range(20)]
        assert [message.payload["number"] for message in got] == list(range(20))
        for message in got:
            message.ack()
        queue.close()
    assert os.listdir(folders["processed"]) == []


def test_empty_truncated_and_foreign_files_are_set_aside_and_the_next_message_is_read(folders, queue_name, caplog):
    bad = {
        f"1_{uuid.uuid4()}.{queue_name}.msg": b"",
        f"2_{uuid.uuid4()}.{queue_name}.msg": b'{"body": "eyJ0YXNrIjog", "head',
        f"3_{uuid.uuid4()}.{queue_name}.msg": b"\xff\xfe not json",
        f"4_{uuid.uuid4()}.{queue_name}.msg": b"[1, 2]",
    }
    for name, content in bad.items():
        (folders["broker"] / name).write_bytes(content)
    with _connection(folders) as connection:
        queue = connection.SimpleQueue(queue_name)
        queue.put({"ok": True})
        message = queue.get(timeout=2)
        assert message.payload == {"ok": True}
        message.ack()
        with pytest.raises(queue.Empty):
            queue.get(timeout=1.5)  # the files after it: set aside, none delivered
        queue.close()
    assert sorted(os.listdir(folders["unreadable"])) == sorted(bad)
    assert os.listdir(folders["broker"]) == []
    assert "is unreadable (0 bytes: empty)" in caplog.text


def test_a_write_the_disk_refuses_leaves_nothing_half_written_and_names_the_folder(folders, queue_name, monkeypatch):
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data)[:7])  # part of it went to disk, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    with _connection(folders) as connection:
        queue = connection.SimpleQueue(queue_name)
        monkeypatch.setattr(broker.os, "write", full)
        with pytest.raises(ChannelError, match="could not write a message in .*: the disk is full"):
            queue.put({"lost": True})
        monkeypatch.setattr(broker.os, "write", real_write)
        assert os.listdir(folders["broker"]) == []
        queue.put({"after": True})
        message = queue.get(timeout=2)
        assert message.payload == {"after": True}
        message.ack()
        queue.close()


def test_temporary_files_a_dead_writer_left_are_removed(folders):
    (folders["broker"] / f"{broker.TEMP_PREFIX}dead").write_bytes(b'{"half')
    (folders["broker"] / "5_x.celery.msg").write_bytes(b"{}")
    assert broker.remove_partial_writes(folders["broker"]) == 1
    assert os.listdir(folders["broker"]) == ["5_x.celery.msg"]


def test_an_unreadable_exchange_table_counts_as_empty_and_binding_rewrites_it_whole(folders):
    with _connection(folders) as connection:
        channel = connection.default_channel
        table = folders["control"] / "fan.exchange"
        table.write_text('[["", "", "q1"')
        assert channel.get_table("fan") == []
        channel._queue_bind("fan", "", "", "q2")
        channel._queue_bind("fan", "", "", "q2")
        assert [row.queue for row in channel.get_table("fan")] == ["q2"]
