"""``manage.py kafaat_seed_partnership``: schools, cohorts of each kind, learners at every stage, needs and a committee.

So that the committee's dashboard tells a story on first open: four schools, initial, work-study and
continuing cohorts over three years, certificates earned, learners on the way, one small cohort (its
figures suppressed for the committee), and the employer's needs, some covered and some not. Everything
goes through the certification and partnership apis. Idempotent: ``make demo`` runs it on every start
and the learners' evidence is only added once.
"""

from __future__ import annotations

import datetime
import random

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.partnership import api, models

COURSE_KEY = "course-v1:Kafaat+LABS101+2026"
DEMO_LEARNER = "p-cloud-2024-01"  # certified, consenting, invited: signs in with the password "learner"
# learners who agreed that Sahara Assurance contacts them about offers (the others share nothing with it)
CONTACTABLE = [f"p-cloud-2024-{n:02d}" for n in range(1, 9)] + [f"p-soc-ws-2025-{n:02d}" for n in range(1, 6)]
CONTACTABLE += [f"p-casa-soc-2026-{n:02d}" for n in range(1, 7)] + [f"p-atlas-cloud-2025-{n:02d}" for n in (1, 2, 3)]
EMPLOYER = "sahara-assurance"
SCHOOLS = {
    "kafaat-academy": {"name": "Kafaat Academy", "country": "MA"},
    "atlas-tech": {"name": "Atlas Tech School", "country": "FR"},
    "casa-digital": {"name": "Casablanca Digital School", "country": "MA"},
    "souss-tech": {"name": "Souss Institute of Technology", "country": "MA"},
}
# (school, track, slug, name, mode, days since start, learners, share certified, share on the way)
COHORTS = [
    (
        "kafaat-academy",
        "cloud-devops-practitioner",
        "p-cloud-2024",
        "Cloud & DevOps 2024",
        "initial",
        700,
        14,
        0.7,
        0.1,
    ),
    (
        "kafaat-academy",
        "security-analyst",
        "p-soc-ws-2025",
        "SOC analysts, work-study 2025",
        "work_study",
        400,
        12,
        0.5,
        0.3,
    ),
    ("atlas-tech", "cloud-devops-practitioner", "p-atlas-cloud-2025", "Atlas Cloud 2025", "initial", 330, 10, 0.4, 0.4),
    (
        "casa-digital",
        "security-analyst",
        "p-casa-soc-2026",
        "Casa SOC, work-study 2026",
        "work_study",
        150,
        16,
        0.1,
        0.6,
    ),
    (
        "casa-digital",
        "cloud-devops-practitioner",
        "p-casa-upskill-2026",
        "Cloud upskilling 2026",
        "continuing",
        120,
        9,
        0.3,
        0.5,
    ),
    ("souss-tech", "cloud-devops-practitioner", "p-souss-cloud-2026", "Souss Cloud 2026", "initial", 90, 3, 0.0, 0.7),
]


def _needs(today: datetime.date) -> list[dict]:
    return [
        {
            "skills": ["cybersecurity.log-triage", "cybersecurity.linux-hardening"],
            "count": 12,
            "days": 180,
            "role_kind": "hire",
            "note": "SOC level 1 analysts for the Casablanca centre",
        },
        {
            "skills": ["cloud.reverse-proxy", "devops.build-automation"],
            "count": 15,
            "days": 120,
            "role_kind": "work_study",
            "note": "Platform team apprentices",
        },
        {"skills": ["cybersecurity.access-control"], "count": 6, "days": 60, "role_kind": "internship", "note": ""},
        {
            "skills": ["data.sql", "data.pipelines"],
            "count": 8,
            "days": 240,
            "role_kind": "hire",
            "note": "No track proves these yet: the gap the committee should see",
        },
        {
            "skills": ["software-testing.test-automation"],
            "count": 5,
            "days": 300,
            "role_kind": "internship",
            "note": "",
        },
    ]


class Command(BaseCommand):
    help = (
        "Seed the partnership demo: schools, cohorts of each kind, learners at every stage, needs, a committee member."
    )

    def handle(self, *args, **options):
        call_command("kafaat_seed_demo", stdout=self.stdout)  # tracks, the demo school, employer and staff
        report = api.load_skills()
        for line in report.lines():
            self.stdout.write(line)
        users = get_user_model().objects
        staff = users.get(username="staff")
        for slug, fields in SCHOOLS.items():
            cert_api.ensure_school(slug, **fields)
        employer = cert_api.ensure_employer(EMPLOYER, "Sahara Assurance")
        committee, created = users.get_or_create(
            username="committee",
            defaults={"email": "committee@example.com", "first_name": "Karim", "last_name": "Alaoui"},
        )
        if created or not committee.has_usable_password():
            committee.set_password("committee")  # the demo's sign-in, documented in docs/partnership.md
            committee.save(update_fields=["password"])
        models.CommitteeMember.objects.update_or_create(user=committee, defaults={"employer_id": employer.id})
        for school in ("casa-digital", "souss-tech"):
            coordinator, created = users.get_or_create(
                username=f"coordinator-{school}", defaults={"email": f"coordinator@{school}.example.org"}
            )
            if created or not coordinator.has_usable_password():
                coordinator.set_password("coordinator")
                coordinator.save(update_fields=["password"])
            cert_api.add_coordinator(coordinator, school)
        today = timezone.localdate()
        seeded = 0
        for index, row in enumerate(COHORTS):
            seeded += self._cohort(staff, today, index, *row)
        self._record_needs(staff, today)
        self._outcomes(employer, today)
        self.stdout.write(f"projected completions stored for {api.refresh_projections()} learners on the way")
        self.stdout.write(
            self.style.SUCCESS(
                f"partnership demo seeded ({seeded} new learners); sign in as committee/committee, then open "
                "/kafaat/partnership/dashboard/ (the employer: sahara-hr/employer; a learner: "
                f"{DEMO_LEARNER}/learner, /kafaat/partnership/invitations/)"
            )
        )

    def _cohort(self, staff, today, index, school, track, slug, name, mode, days, size, certified, on_the_way) -> int:
        start = today - datetime.timedelta(days=days)
        cohort = cert_api.ensure_cohort(
            school, track, slug, name=name, mode=mode, starts_on=start, course_keys=[COURSE_KEY]
        )
        users = get_user_model().objects
        chance = random.Random(index)  # noqa: S311  (demo data, not security)
        created_count = 0
        for number in range(1, size + 1):
            user, created = users.get_or_create(
                username=f"{slug}-{number:02d}", defaults={"email": f"{slug}-{number:02d}@learners.example.org"}
            )
            cert_api.enroll(user, cohort.id)
            if not created:
                continue
            created_count += 1
            stage = number / size
            if stage <= certified:
                self._complete(staff, user, cohort, track, start, chance)
                self._place(staff, user, cohort, mode, chance)
            elif stage <= certified + on_the_way:
                self._start(staff, user, cohort, track, start, chance)
        return created_count

    def _lab(self, user, key, *, passed=True, score=1.0, days_ago=10):
        cert_api.record_lab_result(
            user,
            usage_key=key,
            course_key=COURSE_KEY,
            score=score,
            max_score=1,
            passed=passed,
            completed_at=timezone.now() - datetime.timedelta(days=days_ago),
        )

    def _complete(self, staff, user, cohort, track, start, chance):
        recent = chance.randint(1, 60)
        day = min(start + datetime.timedelta(days=chance.randint(20, 60)), timezone.localdate())
        if track == "cloud-devops-practitioner":
            self._lab(user, "cloud_reverse_proxy", days_ago=recent)
            self._lab(user, "devops_make_hooks", days_ago=recent)
            cert_api.on_course_grade_changed(user.pk, COURSE_KEY, 0.8 + chance.random() * 0.15, True)
            cert_api.add_hours(staff, user, cohort.id, source="school", minutes=16 * 60, date=day, category="cloud")
            cert_api.add_hours(staff, user, cohort.id, source="company", minutes=5 * 60, date=day, category="security")
            cert_api.add_attestation(staff, user, cohort.id, "incident-response")
        else:
            if chance.random() < 0.3:
                self._lab(user, "security_hardening", passed=False, score=0.5, days_ago=recent + 20)
            self._lab(user, "security_hardening", score=0.9, days_ago=recent)
            self._lab(user, "cloud_reverse_proxy", days_ago=recent)
            cert_api.add_hours(staff, user, cohort.id, source="school", minutes=14 * 60, date=day, category="ethics")
            cert_api.add_hours(staff, user, cohort.id, source="company", minutes=28 * 60, date=day, category="soc")
            cert_api.add_attestation(staff, user, cohort.id, "log-triage")
        cert_api.evaluate_and_issue(user.pk)

    def _place(self, staff, user, cohort, mode, chance):
        """Most certified learners of work-study cohorts keep their contract; some others are hired or interned."""
        enrollment_id = cert_api.enroll(user, cohort.id)
        today = timezone.localdate()
        roll = chance.random()
        if mode == "work_study" and roll < 0.8:
            kind, contract, start = "work_study", "apprenticeship", cohort.starts_on
        elif roll < 0.45:
            kind, contract, start = "hire", "permanent", today - datetime.timedelta(days=chance.randint(5, 90))
        elif roll < 0.65:
            kind, contract, start = (
                "internship",
                "internship agreement",
                today - datetime.timedelta(days=chance.randint(5, 60)),
            )
        else:
            return
        api.record_placement(
            staff,
            enrollment_id,
            kind=kind,
            started_on=start,
            learner_consented=True,
            employer_slug=EMPLOYER if chance.random() < 0.6 else "",
            employer_name="Atlas Digital Services",
            contract_type=contract,
        )

    def _start(self, staff, user, cohort, track, start, chance):
        day = min(start + datetime.timedelta(days=chance.randint(5, 30)), timezone.localdate())
        first = "cloud_reverse_proxy" if track == "cloud-devops-practitioner" else "security_hardening"
        self._lab(user, first, passed=chance.random() < 0.7, score=0.85, days_ago=chance.randint(1, 90))
        cert_api.add_hours(staff, user, cohort.id, source="school", minutes=chance.randint(4, 12) * 60, date=day)

    def _record_needs(self, staff, today):
        if models.Need.objects.exists():
            return
        for need in _needs(today):
            api.record_need(
                staff,
                employer_slug=EMPLOYER,
                skills=need["skills"],
                count=need["count"],
                by_date=today + datetime.timedelta(days=need["days"]),
                role_kind=need["role_kind"],
                note=need["note"],
            )

    def _outcomes(self, employer, today):
        """The employer's representative, consents, offers with a shortlist and answers, projects and a hire.

        Only on the first run (offers and projects are the markers), so a second run changes nothing.
        """
        users = get_user_model().objects
        rep, created = users.get_or_create(
            username="sahara-hr",
            defaults={"email": "hr@sahara-assurance.example.com", "first_name": "Nadia", "last_name": "Tazi"},
        )
        if created or not rep.has_usable_password():
            rep.set_password("employer")  # the demo's sign-in, documented in docs/partnership.md
            rep.save(update_fields=["password"])
        models.EmployerRepresentative.objects.update_or_create(user=rep, defaults={"employer_id": employer.id})
        learner = users.filter(username=DEMO_LEARNER).first()
        if learner is not None and not learner.check_password("learner"):
            learner.first_name, learner.last_name = "Salma", "Bennani"
            learner.set_password("learner")
            learner.save(update_fields=["first_name", "last_name", "password"])
        enrolments = {}
        for username in CONTACTABLE:
            user = users.filter(username=username).first()
            if user is None:
                continue
            for enrollment_id in cert_api.learner_consents(user):
                enrolments[username] = enrollment_id
                cert_api.set_own_contact_consent(user, enrollment_id, EMPLOYER, True)
        if models.Offer.objects.exists():
            return
        schools = {school.name: school.id for school in cert_api.list_schools()}
        cloud = api.create_offer(
            rep,
            title="Ingénieur·e cloud junior",
            kind="hire",
            skills=["cloud.reverse-proxy", "devops.build-automation"],
            starts_on=today + datetime.timedelta(days=45),
            apply_by=today + datetime.timedelta(days=20),
            places=3,
            description="Équipe plateforme, Casablanca. CDI après une période d'essai de trois mois.",
        )
        soc = api.create_offer(
            rep,
            title="Stage analyste SOC niveau 1",
            kind="internship",
            skills=["cybersecurity.log-triage"],
            school_ids=[schools["Casablanca Digital School"], schools["Kafaat Academy"]],
            starts_on=today + datetime.timedelta(days=30),
            ends_on=today + datetime.timedelta(days=210),
            apply_by=today + datetime.timedelta(days=14),
            places=4,
        )
        api.create_offer(
            rep,
            title="Alternance plateforme cloud",
            kind="work_study",
            skills=["cloud.reverse-proxy"],
            cohort_kinds=["initial"],
            starts_on=today + datetime.timedelta(days=60),
            apply_by=today + datetime.timedelta(days=40),
            places=5,
        )
        demo = enrolments.get(DEMO_LEARNER)
        pool = [c for c in api.talent_pool(rep, cloud.id) if c.enrollment_id != demo]
        for index, candidate in enumerate(pool[:6]):
            if index < 4:
                api.invite(rep, cloud.id, candidate.enrollment_id)
            else:
                api.shortlist(rep, cloud.id, candidate.enrollment_id)
        if demo is not None:
            api.invite(rep, cloud.id, demo)  # the demo learner answers it in the browser
        for index, invitation in enumerate(models.Invitation.objects.filter(offer_id=cloud.id, status="invited")):
            learner_user = users.get(pk=invitation.user_id)
            if learner_user.username == DEMO_LEARNER or index % 3 == 2:
                continue
            api.answer_invitation(learner_user, invitation.pk, accept=index % 3 == 0)
        for candidate in api.talent_pool(rep, soc.id)[:3]:
            api.invite(rep, soc.id, candidate.enrollment_id)
        accepted = models.Invitation.objects.filter(offer_id=cloud.id, status="accepted").first()
        if accepted is not None:  # the employer records the hire it made through the offer
            api.record_placement(
                rep,
                accepted.enrollment_id,
                kind="hire",
                started_on=today - datetime.timedelta(days=3),
                learner_consented=True,
                contract_type="permanent",
            )
        self._projects(rep, schools, enrolments)

    def _projects(self, mentor, schools, enrolments):
        staff = get_user_model().objects.get(username="staff")
        casa = [enrolments[u] for u in enrolments if u.startswith("p-casa-soc-2026")][:4]
        academy = [enrolments[u] for u in enrolments if u.startswith("p-cloud-2024")][:3]
        soc = api.create_project(
            staff,
            title="Supervision des journaux pour Sahara Assurance",
            kind="capstone",
            school_id=schools["Casablanca Digital School"],
            domain="cybersecurity",
            mentor_username=mentor.username,
            employer_slug=EMPLOYER,
            requirement_key="soc-capstone-2026",
            status="active",
            enrollment_ids=casa,
        )
        for enrollment_id in casa[:2]:
            api.sign_off(mentor, soc.id, enrollment_id)
        research = api.create_project(
            staff,
            title="Détection d'anomalies dans les sinistres",
            kind="research",
            school_id=schools["Kafaat Academy"],
            domain="ai",
            mentor_username=mentor.username,
            employer_slug=EMPLOYER,
            status="completed",
            enrollment_ids=academy,
        )
        for enrollment_id in academy:
            api.sign_off(mentor, research.id, enrollment_id)
        api.create_project(
            staff,
            title="Tests automatisés du portail client",
            kind="capstone",
            school_id=schools["Atlas Tech School"],
            domain="software-testing",
            status="proposed",
        )
