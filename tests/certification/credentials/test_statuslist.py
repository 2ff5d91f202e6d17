"""The Bitstring Status List codec: multi-bit slots, their messages, and entries that say too little."""

import pytest

from xblocks.certification.credentials import statuslist


@pytest.mark.parametrize("index", [0, 1, 3, 4, 65535])
def test_a_two_bit_slot_is_read_back_and_leaves_its_neighbours_alone(index):
    bits = bytearray(statuslist.MIN_SIZE * 2 // 8)
    for value in (statuslist.SUSPENDED, statuslist.REVOKED, statuslist.VALID, 3):
        statuslist.set_value(bits, index, 2, value)
        assert statuslist.get_value(bits, index, 2) == value
        for neighbour in (index - 1, index + 1):
            if neighbour >= 0:
                assert statuslist.get_value(bits, neighbour, 2) == 0


def test_the_slot_is_at_index_times_size_most_significant_bit_first():
    bits = bytearray(2)
    statuslist.set_value(bits, 1, 2, statuslist.REVOKED)  # 0b10 at bits 2 and 3
    assert bits[0] == 0b0010_0000


def test_a_message_entry_says_what_each_value_means():
    entry = statuslist.entry("https://issuer.example/status/x/message/1/", 7, "message")
    assert entry["statusSize"] == 2 and statuslist.entry_size(entry) == 2
    assert [statuslist.message_of(entry, value) for value in range(4)] == ["valid", "suspended", "revoked", "revoked"]
    assert statuslist.message_of({"statusMessage": [{"status": "0x01", "message": "on hold"}]}, 1) == "on hold"


@pytest.mark.parametrize(
    "entry",
    [
        {"statusSize": 2},
        {"statusSize": 2, "statusMessage": [{"status": "0x0", "message": "valid"}]},
        {"statusSize": 0},
        {"statusSize": "2"},
        {"statusSize": 9},
    ],
    ids=["no-messages", "too-few-messages", "zero", "text", "too-large"],
)
def test_an_entry_whose_size_or_messages_do_not_add_up_is_refused(entry):
    with pytest.raises(statuslist.StatusListError):
        statuslist.entry_size(entry)


def test_a_slot_outside_the_list_is_refused():
    with pytest.raises(statuslist.StatusListError):
        statuslist.get_value(bytes(2), 8, 2)
