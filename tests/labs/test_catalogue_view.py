"""The lab catalogue page: staff and a course's authors see every lab's shape; learners and strangers do not."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse


def _url(**query) -> str:
    base = reverse("kafaat_labs:catalogue")
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def client_as(django_user_model):
    def make(username: str | None, **extra) -> Client:
        client = Client()
        if username:
            user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw", **extra)
            client.force_login(user)
        return client

    return make


@pytest.mark.django_db
def test_staff_see_every_sample_lab_with_its_domain_machines_duration_points_and_languages(client_as):
    response = client_as("boss", is_staff=True).get(_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    for key, domain in (
        ("devops_make_hooks", "devops"),
        ("security_hardening", "cybersecurity"),
        ("cloud_reverse_proxy", "cloud"),
    ):
        assert f'data-lab="{key}"' in page and domain in page
    assert "en fr ar" in page and "1 (<span" in page and "60 minutes" in page and "not tested" in page


@pytest.mark.django_db
def test_titles_follow_the_page_language(client_as):
    client = client_as("boss", is_staff=True)
    client.cookies["django_language"] = "fr"
    page = client.get(_url(), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Automatisation du build" in page


@pytest.mark.django_db
def test_the_last_recorded_harness_result_is_shown(client_as, tmp_path, settings):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "devops_make_hooks": {
                    "passed": True,
                    "at": "2026-12-06T14:00:00+00:00",
                    "start_seconds": 0.5,
                    "check_seconds": 2.2,
                },
                "security_hardening": {"passed": False, "at": "2026-12-05T09:00:00+00:00"},
            }
        )
    )
    settings.KAFAAT = {**getattr(settings, "KAFAAT", {}), "LABS_TEST_RESULTS": str(results)}
    page = client_as("boss", is_staff=True).get(_url()).content.decode()
    assert "2026-12-06" in page and "start 0.5 s, checks 2.2 s" in page
    assert 'class="failed">failed</span> 2026-12-05' in page


@pytest.mark.django_db
def test_a_learner_is_refused_and_a_stranger_is_sent_to_sign_in(client_as):
    assert client_as("learner").get(_url()).status_code == 403
    assert client_as("learner2").get(_url(course="course-v1:Kafaat+LABS101+2026")).status_code == 403
    response = client_as(None).get(_url())
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.django_db
def test_a_course_author_sees_the_catalogue_of_their_course_and_the_course_is_escaped(client_as, settings):
    settings.KAFAAT = {**getattr(settings, "KAFAAT", {}), "DEMO_STAFF_IDS": ["author"]}
    client = client_as("author")
    assert client.get(_url()).status_code == 403  # not platform staff: only with a course they author
    page = client.get(_url(course="<script>x</script>")).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


@pytest.mark.django_db
def test_the_catalogue_answers_get_only(client_as):
    assert client_as("boss", is_staff=True).post(_url()).status_code == 405
