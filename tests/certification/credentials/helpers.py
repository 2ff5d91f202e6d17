"""Helpers the credential tests share: certificates made without the certification app's evaluation."""

import dataclasses
import datetime as dt

from xblocks.certification.data import CertificateData, LearnerData, SchoolData, TrackData


def make_certificate(**overrides) -> CertificateData:
    school = SchoolData(
        1, "ecole-nord", "École du Nord", "https://ecole-nord.example", "contact@ecole-nord.example", "FR", ""
    )
    learner = LearnerData(7, "amina", "Amina.Benali@Example.org", "Amina B.", "أمينة بن علي", "ar")
    track = TrackData(
        3,
        "cloud-ops",
        "Cloud Operations Associate",
        "Runs and troubleshoots Linux workloads.",
        2,
        11,
        "Pass the 12 graded labs and the final assessment.",
        120.0,
        ("linux", "kubernetes"),
    )
    today = dt.date.today()
    values = dict(
        id=5,
        number="KAF-2026-000005",
        status="active",
        issued_at=dt.datetime.combine(today - dt.timedelta(days=10), dt.time(9, 30), tzinfo=dt.UTC),
        valid_from=today - dt.timedelta(days=10),
        valid_until=today + dt.timedelta(days=720),
        learner=learner,
        track=track,
        school=school,
        cohort_id=1,
        cohort_name="Nord 2026",
        cohort_slug="nord-2026",
        hours_total=126.5,
        hours_by_category={"lab": 80.0, "theory": 46.5},
        hours_by_source={"school": 100.0, "company": 26.5},
        results=(("Final assessment", 82.0, 70.0), ("Lab: pods and services", True, True)),
        employee_id="E-1",
        evidence={},
    )
    values.update(overrides)
    return CertificateData(**values)


class CertificateStore:
    """Stands in for ``xblocks.certification.api.get_certificate`` (same lookup: number, then numeric id)."""

    def __init__(self):
        self.by_id: dict[int, CertificateData] = {}

    def add(self, **overrides) -> CertificateData:
        certificate = make_certificate(**overrides)
        self.by_id[certificate.id] = certificate
        return certificate

    def set_status(self, certificate_id: int, status: str) -> None:
        self.by_id[certificate_id] = dataclasses.replace(self.by_id[certificate_id], status=status)

    def get(self, number_or_id):
        text = str(number_or_id).strip()
        for certificate in self.by_id.values():
            if certificate.number == text:
                return certificate
        if text.isdigit():
            return self.by_id.get(int(text))
        return None
