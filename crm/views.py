"""Thin HTMX views: parse, call a service or a query, render a page or a partial."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from crm import lead_page, queries, scoring, services
from crm.forms import InteractionForm, LeadForm, MoveForm
from crm.models import Lead, Stage
from crm.permissions import is_manager


def message_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A readable error: plain text for scripts and htmx, a page for a person's browser."""
    if request.htmx or request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def notify(response: HttpResponse, message: str, level: str = "info") -> HttpResponse:
    """Show a notice in the browser; merged with the response's other client events, never replacing them."""
    # JSON escapes non-ASCII, so any name fits in a header.
    return trigger_client_event(response, "pipeline:notice", {"message": message, "level": level})


def card_response(request: HttpRequest, lead: Lead, status: int = 200, message: str = "") -> HttpResponse:
    response = render(
        request, "crm/partials/_card.html", {"lead": lead, "now": timezone.now()}, status=status
    )
    return notify(response, message, "error") if message else response


def manager_required(refusal: str):
    """Let managers through; anyone else gets a 403 saying why."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not is_manager(request.user):
                return message_response(request, 403, refusal)
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


def domain_errors(view):
    """Turn the services' refusals into 403/404/409/400 answers with the reason, never a 500."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Lead.DoesNotExist:
            return message_response(request, 404, "That lead does not exist any more.")
        except PermissionDenied as error:
            return message_response(request, 403, str(error) or "You may not do that.")
        except services.Conflict as error:
            return card_response(request, queries.card(error.lead.pk), status=409, message=error.message)
        except ValidationError as error:
            return message_response(request, 400, " ".join(error.messages))

    return wrapper


def form_error_text(form) -> str:
    return " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    board_filter = queries.BoardFilter.from_request(request)
    board_sort = queries.BoardSort.from_query(request.GET)
    context = {
        # A callable, so the template reads the board after it has read the latest event number: a
        # browser may then replay an event it already shows (harmless), never miss one.
        "columns": lambda: queries.board(board_filter, board_sort=board_sort),
        "filter": board_filter,
        "filtered": board_filter != queries.BoardFilter(),
        "sort": board_sort,
        "sources": queries.sources(),
        "now": timezone.now(),
        "query": request.GET.urlencode(),
        "closed_needed": scoring.closed_needed(),
    }
    return render(request, "crm/board.html", context)


@login_required
@require_GET
def board_headers(request: HttpRequest) -> HttpResponse:
    """Every column's header under the page's filters, swapped in out of band: a filtered board asks for
    these when a live frame touched its columns (frames carry the unfiltered board's headers)."""
    board_filter = queries.BoardFilter.from_request(request)
    stats = queries.column_stats(board_filter=board_filter)
    every = queries.column_stats()
    headers = [
        (stage, *stats.get(stage.pk, (0, 0)), every.get(stage.pk, (0,))[0]) for stage in Stage.objects.all()
    ]
    return render(request, "crm/partials/board_headers.html", {"headers": headers, "oob": True})


@login_required
@require_GET
def column_more(request: HttpRequest, slug: str) -> HttpResponse:
    stage = get_object_or_404(Stage, slug=slug)
    board_sort = queries.BoardSort.from_query(request.GET)
    try:
        after = queries.parse_after(request.GET.get("after", ""), board_sort)
    except ValueError:
        key = "position" if board_sort.by_position else board_sort.label.lower()
        return message_response(request, 400, f"“after” must be a card's {key} and id, like 1024:17.")
    board_filter = queries.BoardFilter.from_request(request)
    cards, has_more = queries.column_page(stage, board_filter, after, board_sort)
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "stage": stage,
        "cards": cards,
        "has_more": has_more,
        "after": board_sort.page_key(cards[-1]) if cards else "",
        "filtered": board_filter != queries.BoardFilter(),
        "now": timezone.now(),
        "query": query.urlencode(),
    }
    return render(request, "crm/partials/_column_cards.html", context)


@login_required
@require_POST
@domain_errors
def move(request: HttpRequest, pk: int) -> HttpResponse:
    form = MoveForm(request.POST)
    if not form.is_valid():
        return message_response(request, 400, f"Cannot move the card: {form_error_text(form)}")
    data = form.cleaned_data
    placement = services.Placement(index=data["index"], prev_id=data["prev"], next_id=data["next"])
    # From the lead page's stage control: the answer is the page's head, after the move or the refusal.
    on_page = request.POST.get("in") == "page"
    try:
        lead = services.move_lead(
            pk, actor=request.user, stage_slug=data["stage"], placement=placement, version=data["version"]
        )
    except services.Conflict as conflict:
        if not on_page:
            raise
        return notify(_head_response(request, conflict.lead.pk, status=409), conflict.message, "error")
    if on_page:
        return notify(_head_response(request, lead.pk), f"Moved {lead.name} to {lead.stage.name}.")
    return card_response(request, lead)  # as the move left it: no second read


def _head_response(request: HttpRequest, pk: int, status: int = 200) -> HttpResponse:
    """The lead page's head, and the edit form's version brought forward: its own move is no conflict."""
    context = {
        **lead_page.parts(request.user, queries.card(pk)),
        "move_answer": True,
        "refresh_version": status == 200,
    }
    return render(request, "crm/partials/lead_head.html", context, status=status)


def _detail_context(request: HttpRequest, lead: Lead, form=None, interaction_form=None) -> dict:
    return {
        **lead_page.parts(request.user, lead),
        "form": form or LeadForm(instance=lead, user=request.user),
        "interaction_form": interaction_form or InteractionForm(),
    }


def _page(request: HttpRequest, lead: Lead, context: dict) -> HttpResponse:
    """The whole lead page: only it shows the score's reasons, which cost a model run."""
    context["explanation"] = scoring.explain(lead) if lead.lead_score is not None else None
    return render(request, "crm/lead_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = get_object_or_404(queries.card_queryset(), pk=pk)
    if request.method == "GET":
        return _page(request, lead, _detail_context(request, lead))
    form = LeadForm(request.POST, instance=Lead.objects.get(pk=pk), user=request.user)
    if not form.is_valid():
        context = _detail_context(request, lead, form=form)
        return render(request, "crm/partials/lead_form.html", context, status=400)
    try:
        services.update_lead(
            pk, actor=request.user, version=form.cleaned_data["version"], changes=form.changes()
        )
    except services.Conflict as conflict:
        form.add_error(None, f"{conflict.message} Reload to see their change; your edit was not saved.")
        context = _detail_context(request, lead, form=form)
        return render(request, "crm/partials/lead_form.html", context, status=409)
    lead = queries.card(pk)
    context = _detail_context(request, lead)
    context["saved"] = True
    if request.htmx:
        return render(request, "crm/partials/lead_form.html", context)
    return _page(request, lead, context)


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None, initial={"owner": request.user}, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            changes = {k: v for k, v in form.changes().items() if v not in (None, "")}
            lead = services.create_lead(actor=request.user, **changes)
            return redirect("lead-detail", pk=lead.pk)
        return render(request, "crm/lead_create.html", {"form": form}, status=400)
    return render(request, "crm/lead_create.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    """The log form: in the board's dialog (quick action) or in the lead page's interactions section."""
    lead = get_object_or_404(queries.card_queryset(), pk=pk)
    in_dialog = request.GET.get("in") == "dialog" or request.POST.get("in") == "dialog"
    template = "crm/partials/interaction_dialog.html" if in_dialog else "crm/partials/interactions.html"
    form = InteractionForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, template, _detail_context(request, lead, interaction_form=form), status=400
            )
        services.log_interaction(pk, actor=request.user, **form.cleaned_data)
        lead = queries.card(pk)
        if in_dialog:
            response = reswap(retarget(card_response(request, lead), f"#lead-{pk}"), "outerHTML")
            return notify(response, f"Logged a {form.cleaned_data['kind']} with {lead.name}.")
        form = InteractionForm()
    context = _detail_context(request, lead, interaction_form=form)
    # The lead's version moved on; the edit form on the same page must not turn stale (a false conflict).
    context["refresh_version"] = request.method == "POST"
    return render(request, template, context)
