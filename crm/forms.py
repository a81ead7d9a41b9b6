from django import forms
from django.contrib.auth import get_user_model

from crm import lead_fields
from crm.models import Interaction, Lead, LeadSource
from crm.people import full_name
from crm.permissions import is_manager


class LeadForm(forms.ModelForm):
    """Create and edit a lead; `version` makes a stale edit a conflict instead of a silent overwrite."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Lead
        fields = list(lead_fields.EDITABLE)
        labels = {f.model_attr: f.label for f in lead_fields.FIELDS if f.editable and f.label}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        owners = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        if user is not None and not is_manager(user):
            # Agents take a lead, leave it unassigned or keep its owner (services refuse the rest).
            owners = owners.filter(pk__in=[user.pk, self.instance.owner_id])
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = full_name
        self.fields["source"].queryset = LeadSource.objects.all()
        if self.instance.pk:  # an edit must say which version it edits, or it could overwrite unseen
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class InteractionForm(forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["kind", "notes", "outcome"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}


class MoveForm(forms.Form):
    stage = forms.SlugField()
    index = forms.IntegerField(min_value=0, max_value=1_000_000)  # past the end appends
    version = forms.IntegerField(min_value=0)
    prev = forms.IntegerField(required=False)
    next = forms.IntegerField(required=False)
