"""Every URL the Kafaat plugin apps mount in a project resolves to Kafaat's view and answers."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from tests.certification.helpers import complete_cloud_track

NAMESPACES = {
    "lms": {"kafaat_labs", "kafaat_certification", "kafaat_credentials", "kafaat_exports", "kafaat_partnership"}
}
NAMESPACES["cms"] = {"kafaat_labs", "kafaat_certification"}


def _kafaat_routes(project):
    """(namespace, pattern) for every route under a Kafaat plugin's namespace in the root URL conf."""
    routes = []
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in NAMESPACES[project]:
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern), f"nested include under {entry.namespace}"
                routes.append((entry.namespace, pattern))
    return routes


def test_each_kafaat_namespace_is_mounted_where_the_platform_mounts_plugins(project):
    mounted = {entry.namespace for entry in get_resolver().url_patterns if isinstance(entry, URLResolver)}
    assert NAMESPACES[project] <= mounted
    if project == "cms":
        # Credentials, exports and partnership are installed in Studio (their models) but serve the LMS only.
        assert not {"kafaat_credentials", "kafaat_exports", "kafaat_partnership"} & mounted


@pytest.mark.django_db
def test_every_kafaat_url_resolves_to_its_view_and_answers(project, cert_world, client):
    complete_cloud_track(cert_world, "amina_a")
    from xblocks.certification import api, models  # pylint: disable=import-outside-toplevel
    from xblocks.certification.exports import api as exports_api  # pylint: disable=import-outside-toplevel

    certificate = api.get_certificate(models.Certificate.objects.get(user=cert_world.learner("amina_a")).number)
    export = exports_api.start_export(cert_world.staff, format="csv") if project == "lms" else None
    values = {
        "reference": certificate.number,
        "issuer": "school-a",
        "purpose": "revocation",
        "sequence": 0,
        "slug": "school-a",
        "track": certificate.track.slug,
        "version": certificate.track.version,
        "cohort_id": cert_world.cohort_a.id,
        "public_id": getattr(export, "public_id", "no-such-export"),
        "offer_id": 987654,  # none such: the page must answer a clear refusal, not an error
        "report_id": 987654,
        "fmt": "pdf",
    }
    routes = _kafaat_routes(project)
    assert routes, "no Kafaat route mounted"
    client.force_login(cert_world.staff)
    seen = []
    for namespace, pattern in routes:
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        url = reverse(f"{namespace}:{pattern.name}", kwargs=kwargs)
        match = resolve(url)
        assert match.func.__module__.startswith("xblocks."), url
        response = client.get(url)
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        seen.append((url, response.status_code))
    # The public verification page of the certificate is really served, not merely routed.
    if project == "lms":
        page = dict(seen)[reverse("kafaat_credentials:verify", kwargs={"reference": certificate.number})]
        assert page == 200
