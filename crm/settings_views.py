"""Settings: the pipeline's stages and the team (managers), and each user's own profile (everyone).

Thin views: a form checks the shape of the input, a service (crm.services, crm.team, crm.profiles) makes the
write and says what is wrong with it; a refusal comes back as the form with its errors in place (400).
"""

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm import profiles, services, team
from crm.models import Stage
from crm.people import full_name
from crm.permissions import is_manager
from crm.views import manager_required, message_response, notify

User = get_user_model()
STAGES_REFUSAL = "The pipeline's stages are changed by managers."
TEAM_REFUSAL = "The team is managed by managers."


def refusals(view):
    """A refusal no form field can show (a stale page, a forbidden change): 400/403 saying why."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as error:
            return message_response(request, 403, str(error) or "You may not do that.")
        except ValidationError as error:
            return message_response(request, 400, " ".join(error.messages))

    return wrapper


def _apply_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("settings-stages" if is_manager(request.user) else "settings-profile")


# --- Stages -----------------------------------------------------------------------------------------------


class StageForm(forms.ModelForm):
    class Meta:
        model = Stage
        fields = ["name", "kind", "wip_limit"]
        labels = {"wip_limit": "WIP limit"}
        help_texts = {"wip_limit": "Most cards the column takes; empty for no limit."}


def _stages_context(bound: StageForm | None = None, add_form: StageForm | None = None) -> dict:
    # An explicit order: Meta.ordering does not apply to a query that groups.
    stages = list(Stage.objects.annotate(lead_count=Count("leads")).order_by("order", "id"))
    rows = []
    for stage in stages:
        form = bound if bound is not None and bound.instance.pk == stage.pk else None
        rows.append((stage, form or StageForm(instance=stage, prefix=f"stage-{stage.pk}")))
    return {"rows": rows, "stages": stages, "add_form": add_form or StageForm(prefix="new")}


@require_http_methods(["GET", "POST"])
@manager_required(STAGES_REFUSAL)
@refusals
def stages(request: HttpRequest) -> HttpResponse:
    """The list, and adding a stage (at the end)."""
    form = StageForm(request.POST or None, prefix="new")
    if request.method == "POST":
        if form.is_valid():
            try:
                stage = services.save_stage(form.save(commit=False), actor=request.user)
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, f"Stage “{stage.name}” added.")
                return redirect("settings-stages")
        return render(request, "settings/stages.html", _stages_context(add_form=form), status=400)
    return render(request, "settings/stages.html", _stages_context())


@require_POST
@manager_required(STAGES_REFUSAL)
@refusals
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)
    form = StageForm(request.POST, instance=stage, prefix=f"stage-{pk}")
    if form.is_valid():
        try:
            services.save_stage(form.save(commit=False), actor=request.user)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Stage “{stage.name}” saved.")
            return redirect("settings-stages")
    return render(request, "settings/stages.html", _stages_context(bound=form), status=400)


def _stage_list(request: HttpRequest, message: str) -> HttpResponse:
    """After a reorder: the list alone for htmx (focus stays where it was), else the page."""
    if not request.htmx:
        messages.success(request, message)
        return redirect("settings-stages")
    response = render(request, "settings/_stage_list.html", _stages_context())
    return notify(response, message)


@require_POST
@manager_required(STAGES_REFUSAL)
@refusals
def stage_shift(request: HttpRequest, pk: int) -> HttpResponse:
    """Up or down one place: the keyboard's (and no-script) way to reorder."""
    by = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if by is None:
        return message_response(request, 400, "Say up or down.")
    ordered = services.shift_stage(get_object_or_404(Stage, pk=pk).pk, actor=request.user, by=by)
    place = next(i for i, stage in enumerate(ordered, 1) if stage.pk == pk)
    return _stage_list(request, f"“{ordered[place - 1].name}” is now stage {place} of {len(ordered)}.")


@require_POST
@manager_required(STAGES_REFUSAL)
@refusals
def stage_order(request: HttpRequest) -> HttpResponse:
    """The order a drag left: every stage's id, comma-separated, first column first."""
    try:
        ids = [int(part) for part in request.POST.get("order", "").split(",") if part.strip()]
    except ValueError:
        return message_response(request, 400, "The order must list the stages' ids.")
    services.reorder_stages(ids, actor=request.user)
    return _stage_list(request, "Stages reordered.")


@require_POST
@manager_required(STAGES_REFUSAL)
@refusals
def stage_merge(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)
    try:
        into = int(request.POST.get("into", ""))
    except ValueError:
        return message_response(request, 400, f"Pick the stage that takes “{stage.name}”'s leads.")
    target = services.merge_stage(stage.pk, into_id=into, actor=request.user)
    messages.success(request, f"“{stage.name}” merged into “{target.name}”.")
    return redirect("settings-stages")


@require_POST
@manager_required(STAGES_REFUSAL)
@refusals
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)
    services.delete_stage(stage, actor=request.user)
    messages.success(request, f"Stage “{stage.name}” deleted.")
    return redirect("settings-stages")


# --- Team -------------------------------------------------------------------------------------------------

ROLE_CHOICES = list(team.ROLES.items())


class MemberForm(forms.Form):
    full_name = forms.CharField(max_length=300)
    email = forms.EmailField()
    username = forms.CharField(max_length=150, help_text="What they log in with.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="agents")
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Initial password",
        help_text="Leave empty to email them a link to choose their own.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


KEEP, NOBODY = "keep", "nobody"


def hand_over_choices(member, active: list) -> list[tuple[str, str]]:
    """Where a member's open leads can go when they leave: stay, nobody, or another active member."""
    others = [(str(user.pk), f"Hand to {full_name(user)}") for user in active]
    return [(KEEP, "Keep with them"), (NOBODY, "Nobody (unassigned)")] + [
        choice for choice in others if choice[0] != str(member.pk)
    ]


class DeactivateForm(forms.Form):
    hand_to = forms.ChoiceField(label="Their open leads")

    def __init__(self, *args, member, active: list, **kwargs):
        super().__init__(*args, auto_id=f"id_{member.pk}_%s", **kwargs)
        self.fields["hand_to"].choices = hand_over_choices(member, active)
        self.active = {str(user.pk): user for user in active}

    def hand_over(self) -> tuple[bool, object]:
        """(hand over?, to whom) for team.deactivate."""
        choice = self.cleaned_data["hand_to"]
        return choice != KEEP, self.active.get(choice)


def _team_context(add_form: MemberForm | None = None, failed=None) -> dict:
    """Every member with their forms; `failed` is a bound form (role or deactivation) to show with errors."""
    members = list(team.members())
    active = [member for member in members if member.is_active]
    for member in members:
        member.role_form = RoleForm(
            initial={"role": team.MANAGERS_GROUP if member.manager else team.AGENTS_GROUP},
            auto_id=f"id_{member.pk}_%s",
        )
        member.deactivate_form = DeactivateForm(member=member, active=active)
        if failed is not None and failed.member_id == member.pk:
            setattr(member, failed.slot, failed)
    return {"members": members, "add_form": add_form or MemberForm()}


@require_http_methods(["GET", "POST"])
@manager_required(TEAM_REFUSAL)
@refusals
def team_page(request: HttpRequest) -> HttpResponse:
    """The team, and adding someone (with a password, or an emailed link to choose one)."""
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                member = team.add_member(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                name = member.get_full_name()
                if form.cleaned_data["password"]:
                    messages.success(request, f"{name} can log in as {member.username}.")
                else:
                    team.send_set_password_link(member)
                    messages.success(request, f"{name} was emailed a link to choose a password.")
                return redirect("settings-team")
        return render(request, "settings/team.html", _team_context(add_form=form), status=400)
    return render(request, "settings/team.html", _team_context())


def _member_failed(request, form, member, slot: str) -> HttpResponse:
    form.member_id, form.slot = member.pk, slot
    return render(request, "settings/team.html", _team_context(failed=form), status=400)


@require_POST
@manager_required(TEAM_REFUSAL)
@refusals
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST, auto_id=f"id_{pk}_%s")
    if form.is_valid():
        try:
            team.set_role(member.pk, actor=request.user, role=form.cleaned_data["role"])
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            role = team.ROLES[form.cleaned_data["role"]].lower()
            messages.success(request, f"{full_name(member)} is now a {role}.")
            return redirect("settings-team")
    return _member_failed(request, form, member, "role_form")


@require_POST
@manager_required(TEAM_REFUSAL)
@refusals
def member_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    active = list(User.objects.filter(is_active=True))
    form = DeactivateForm(request.POST, member=member, active=active)
    if form.is_valid():
        hand_over, to = form.hand_over()
        try:
            handed = team.deactivate(member.pk, actor=request.user, hand_over=hand_over, hand_to=to)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            name = full_name(member)
            note = ""
            if hand_over:
                note = f" {handed} open lead{'s' if handed != 1 else ''} handed to "
                note += f"{full_name(to)}." if to else "nobody."
            messages.success(request, f"{name} was deactivated.{note}")
            return redirect("settings-team")
    return _member_failed(request, form, member, "deactivate_form")


@require_POST
@manager_required(TEAM_REFUSAL)
@refusals
def member_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    member = team.reactivate(get_object_or_404(User, pk=pk).pk, actor=request.user)
    messages.success(request, f"{full_name(member)} can log in again.")
    return redirect("settings-team")


# --- Your profile (everyone) ------------------------------------------------------------------------------


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=300)
    email = forms.EmailField()
    time_zone = forms.ChoiceField(
        required=False, choices=[("", "The site's time zone"), *((z, z) for z in profiles.ZONES)]
    )


def _profile_context(request, profile_form=None, password_form=None) -> dict:
    user = request.user
    initial = {"full_name": user.get_full_name(), "email": user.email, "time_zone": _zone_name(user)}
    return {
        "profile_form": profile_form or ProfileForm(initial=initial),
        "password_form": password_form or PasswordChangeForm(user),
    }


def _zone_name(user) -> str:
    profile = getattr(user, "profile", None)
    return profile.time_zone if profile else ""


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                profiles.update_profile(request.user, **form.cleaned_data)
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("settings-profile")
        return render(
            request, "settings/profile.html", _profile_context(request, profile_form=form), status=400
        )
    return render(request, "settings/profile.html", _profile_context(request))


@login_required
@require_POST
def password(request: HttpRequest) -> HttpResponse:
    """Django's form checks the current password and the new pair; the service writes it."""
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        try:
            user = profiles.set_password(request.user, form.cleaned_data["new_password1"])
        except ValidationError as error:
            form.add_error("new_password2", error)
        else:
            update_session_auth_hash(request, user)  # this browser stays logged in; others are logged out
            messages.success(request, "Your password is changed.")
            return redirect(reverse("settings-profile") + "#password")
    context = _profile_context(request, password_form=form)
    return render(request, "settings/profile.html", context, status=400)
