"""Transactions the database ended to break a deadlock are run again; anything else is not."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, transaction

from xblocks.core.transactions import atomic_with_retries


@pytest.mark.django_db(transaction=True)
def test_a_transaction_rolled_back_by_a_deadlock_runs_again_and_keeps_only_its_last_run():
    calls = []

    def work():
        calls.append(1)
        get_user_model().objects.create(username=f"try{len(calls)}")
        if len(calls) < 3:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return len(calls)

    assert atomic_with_retries(work) == 3
    # the two rolled-back runs left nothing behind
    assert list(get_user_model().objects.filter(username__startswith="try").values_list("username", flat=True)) == [
        "try3"
    ]


@pytest.mark.django_db(transaction=True)
def test_other_errors_and_a_deadlock_past_the_last_attempt_are_raised():
    calls = []

    def locked():
        calls.append(1)
        raise OperationalError(1213, "Deadlock found")

    with pytest.raises(OperationalError):
        atomic_with_retries(locked, attempts=2)
    assert len(calls) == 2

    def other():
        calls.append(1)
        raise OperationalError(1045, "Access denied")

    calls.clear()
    with pytest.raises(OperationalError):
        atomic_with_retries(other)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_the_work_runs_once():
    calls = []

    def locked():
        calls.append(1)
        raise OperationalError(1213, "Deadlock found")

    with pytest.raises(OperationalError), transaction.atomic():
        atomic_with_retries(locked)
    assert len(calls) == 1
