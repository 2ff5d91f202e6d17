"""Presets: built-ins shaped for each HR import, coordinators' adjustments validated and scoped."""

import pytest
from django.core.exceptions import PermissionDenied

from xblocks.certification.exports import api, presets
from xblocks.certification.exports.records import FIELDS


def test_every_builtin_preset_is_valid_and_its_key_columns_exist():
    for preset in presets.builtin_presets():
        assert presets.columns_from_json([c.as_json() for c in preset.columns]) == preset.columns
        assert set(preset.key) <= set(preset.headers)


def test_cornerstone_preset_uses_the_four_field_key_and_accepted_statuses():
    preset = presets.BUILTIN["cornerstone"]
    assert preset.key == ("User ID", "Start Date/Time", "Transcript Status", "Training Title")
    status = next(c for c in preset.columns if c.header == "Transcript Status")
    # the status is part of Cornerstone's key: it stays Completed so a status change updates the record
    assert status.constant == "Completed" and not status.value_map
    archived = next(c for c in preset.columns if c.header == "Archived")
    assert archived.value_map == {"Active": "false", "Expired": "false", "Suspended": "true", "Revoked": "true"}


def test_kafaat_preset_has_every_record_field():
    assert presets.BUILTIN["kafaat"].headers == list(FIELDS)


@pytest.mark.parametrize(
    "columns",
    [
        [],
        [{"header": "", "field": "email"}],
        [{"header": "A", "field": "password"}],
        [{"header": "A", "template": "{__class__}"}],
        [{"header": "A", "field": "email", "constant": "x"}],
        [{"header": "A", "field": "email", "format": "eval"}],
        [{"header": "A", "field": "email"}, {"header": "A", "field": "full_name"}],
        [{"header": "A", "field": "email", "sql": "drop"}],
    ],
)
def test_invalid_columns_are_refused(columns):
    with pytest.raises(presets.PresetError):
        presets.columns_from_json(columns)


def test_a_coordinator_adjusts_a_preset_for_their_school_only(world):
    adjusted = api.save_preset(
        world.coordinator_a,
        slug="north-workday",
        name="North Workday",
        base="workday",
        school_id=world.school_a.id,
        columns=[{"header": "Worker", "field": "employee_external_id"}, {"header": "Hours", "field": "total_hours"}],
    )
    assert adjusted.headers == ["Worker", "Hours"]
    assert api.get_preset("north-workday", world.coordinator_a).base == "workday"
    with pytest.raises(LookupError):
        api.get_preset("north-workday", world.coordinator_b)
    with pytest.raises(PermissionDenied):
        api.save_preset(
            world.coordinator_b, slug="north-workday", name="Hijack", base="workday", school_id=world.school_b.id
        )
    with pytest.raises(PermissionDenied):
        api.save_preset(world.coordinator_b, slug="south-x", name="X", base="workday", school_id=world.school_a.id)
