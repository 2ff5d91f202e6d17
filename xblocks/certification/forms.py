"""Staff forms: one hours entry, one attestation, one CSV upload (scoped to the cohorts the user manages)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from xblocks.certification import models, permissions
from xblocks.core.i18n import gettext_lazy as _


class _CohortScoped(forms.Form):
    cohort = forms.ModelChoiceField(queryset=models.Cohort.objects.none(), label=_("Cohort"))
    learner = forms.CharField(label=_("Learner (username or e-mail)"), max_length=254)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cohort"].queryset = permissions.cohort_queryset(user, change=True).order_by("name")

    def clean(self):
        data = super().clean()
        cohort, learner = data.get("cohort"), (data.get("learner") or "").strip()
        if cohort and learner:
            users = get_user_model().objects.filter(kafaat_enrollments__cohort=cohort)
            user = users.filter(username=learner).first() or users.filter(email__iexact=learner).first()
            if user is None:
                self.add_error("learner", _("No learner with this name in this cohort."))
            data["user"] = user
        return data


class HoursEntryForm(_CohortScoped):
    source = forms.ChoiceField(choices=[(s.value, s.value) for s in models.HoursSource], label=_("Source"))
    category = forms.SlugField(required=False, max_length=64, label=_("Category"))
    minutes = forms.IntegerField(min_value=1, max_value=24 * 60, label=_("Minutes"))
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=2000, label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}))

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("The date is in the future."))
        return day


class AttestationForm(_CohortScoped):
    competency = forms.SlugField(max_length=128, label=_("Competency"))
    note = forms.CharField(required=False, max_length=2000, label=_("Note"))


class HoursImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    commit = forms.BooleanField(required=False, label=_("Write the entries (otherwise a dry run)"))
    skip_invalid = forms.BooleanField(required=False, label=_("Import the valid rows even if some are rejected"))
