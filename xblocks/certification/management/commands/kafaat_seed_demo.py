"""``manage.py kafaat_seed_demo``: the demo's school, employer, cohorts, coordinator and learners, through the api.

Idempotent (``make demo`` runs it on every start): existing rows are reused and the sample hours,
evidence and attestations are only added to a learner who has none yet.
"""

import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from xblocks.certification import api, models, tracks

COURSE_KEY = "course-v1:Kafaat+LABS101+2026"
LABS = ("cloud_reverse_proxy", "devops_make_hooks", "security_hardening")


class Command(BaseCommand):
    help = (
        "Seed the Kafaat demo: tracks, a school, an employer, cohorts, a coordinator and learners at different points."
    )

    def handle(self, *args, **options):
        report = tracks.load_directory()
        for line in report.lines():
            self.stdout.write(line)
        users = get_user_model().objects
        staff, _ = users.get_or_create(username="staff", defaults={"email": "staff@example.com"})
        if not (staff.is_staff and staff.is_superuser):
            staff.is_staff = staff.is_superuser = True
            staff.save(update_fields=["is_staff", "is_superuser"])
        # get_or_create (here or in the workbench's ?student=staff) leaves the password empty, which Django
        # still calls usable: the admin sign-in staff/staff the docs promise would never work.
        if not staff.password or not staff.has_usable_password():
            staff.set_password("staff")
            staff.save(update_fields=["password"])

        api.ensure_school(
            "kafaat-academy",
            name="Kafaat Academy",
            url="https://academy.example.org",
            email="contact@academy.example.org",
            country="MA",
        )
        api.ensure_school("atlas-tech", name="Atlas Tech School", country="FR")
        api.ensure_employer("sahara-assurance", "Sahara Assurance")
        coordinator, _ = users.get_or_create(
            username="coordinator",
            defaults={"email": "coordinator@example.com", "first_name": "Salma", "last_name": "Idrissi"},
        )
        api.add_coordinator(coordinator, "kafaat-academy")

        today = timezone.localdate()
        start = today - datetime.timedelta(days=90)
        cloud = api.ensure_cohort(
            "kafaat-academy",
            "cloud-devops-practitioner",
            "cloud-2026",
            name="Cloud & DevOps 2026",
            mode="initial",
            starts_on=start,
            ends_on=today + datetime.timedelta(days=180),
            course_keys=[COURSE_KEY],
        )
        security = api.ensure_cohort(
            "kafaat-academy",
            "security-analyst",
            "security-ws-2026",
            name="Security analyst, work-study 2026",
            mode="work_study",
            starts_on=start,
            course_keys=[COURSE_KEY],
        )
        atlas = api.ensure_cohort(
            "atlas-tech",
            "cloud-devops-practitioner",
            "atlas-cloud-2026",
            name="Atlas Cloud 2026",
            starts_on=start,
            course_keys=[COURSE_KEY],
        )

        learners = {
            "amina": ("Amina", "Benali", cloud, "EMP-1001"),
            "yanis": ("Yanis", "Haddad", cloud, "EMP-1002"),
            "student_1": ("Sam", "Student", cloud, ""),
            "nora": ("Nora", "Kaci", security, "EMP-2001"),
            "lina": ("Lina", "Moreau", atlas, ""),
        }
        for username, (first, last, cohort, employee_id) in learners.items():
            user, _ = users.get_or_create(
                username=username, defaults={"email": f"{username}@example.com", "first_name": first, "last_name": last}
            )
            enrollment_id = api.enroll(user, cohort.id, employee_id=employee_id)
            if employee_id:
                api.set_consent(enrollment_id, "sahara-assurance", True)
            if not models.HoursEntry.objects.filter(user=user).exists():
                self._progress(staff, user, username, cohort, start)
            api.evaluate_and_issue(user.pk)
        self.stdout.write(
            self.style.SUCCESS(
                "demo seeded: learners amina (certified), yanis, student_1, nora, lina; coordinator; staff"
            )
        )

    def _progress(self, staff, user, username, cohort, start):
        """Sample evidence: amina meets her track, yanis is close, student_1 has started, nora is mid-way."""
        day = start + datetime.timedelta(days=7)
        if username == "amina":
            for lab in LABS[:2]:
                api.record_lab_result(
                    user,
                    usage_key=lab,
                    course_key=COURSE_KEY,
                    score=3,
                    max_score=3,
                    passed=True,
                    completed_at=timezone.now() - datetime.timedelta(days=20),
                )
            api.on_course_grade_changed(user.pk, COURSE_KEY, 0.86, True)
            api.add_hours(staff, user, cohort.id, source="school", minutes=16 * 60, date=day, category="cloud")
            api.add_hours(staff, user, cohort.id, source="elearning", minutes=5 * 60, date=day, category="security")
            api.add_attestation(staff, user, cohort.id, "incident-response", note="Handled the March outage drill")
        elif username == "yanis":
            api.record_lab_result(
                user,
                usage_key=LABS[0],
                course_key=COURSE_KEY,
                score=3,
                max_score=3,
                passed=True,
                completed_at=timezone.now() - datetime.timedelta(days=10),
            )
            api.on_course_grade_changed(user.pk, COURSE_KEY, 0.74, True)
            api.add_hours(staff, user, cohort.id, source="school", minutes=14 * 60 + 30, date=day, category="cloud")
            api.add_hours(staff, user, cohort.id, source="school", minutes=90, date=day, category="security")
        elif username == "student_1":
            api.add_hours(staff, user, cohort.id, source="school", minutes=6 * 60, date=day, category="cloud")
        elif username == "nora":
            api.record_lab_result(
                user,
                usage_key=LABS[2],
                course_key=COURSE_KEY,
                score=2,
                max_score=3,
                passed=False,
                completed_at=timezone.now() - datetime.timedelta(days=5),
            )
            api.add_hours(staff, user, cohort.id, source="company", minutes=18 * 60, date=day, category="soc")
            api.add_hours(staff, user, cohort.id, source="school", minutes=6 * 60, date=day, category="ethics")
        elif username == "lina":
            api.add_hours(staff, user, cohort.id, source="school", minutes=3 * 60, date=day, category="cloud")
