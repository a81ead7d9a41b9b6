"""Leads in and out in the browser: the managers' CSV import (upload, mapping, progress) and the export."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from crm import exporting, importing
from crm.models import ImportJob, Lead
from crm.queries import BoardFilter
from crm.views import manager_required, message_response

TARGET_CHOICES = [
    (importing.ATTRIBUTE, "attribute (kept on the lead)"),
    (importing.IGNORE, "ignore"),
    *((name, name) for name in importing.FIELDS),
]


IMPORT_REFUSAL = "Only managers can import leads."


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > importing.MAX_FILE_BYTES:
            limit = importing.MAX_FILE_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"The file is larger than {limit} MB; import it in parts.")
        data = upload.read()
        try:
            self.csv_file = importing.read_csv(data)
            self.row_count = self.csv_file.row_count()  # reads every record: a bad one is refused here
        except importing.ImportRefused as refused:
            raise forms.ValidationError(refused.message) from None
        upload.seek(0)
        return upload


class MappingForm(forms.Form):
    """One choice per CSV column: a lead field, an attribute, or nothing."""

    def __init__(self, columns: list[str], *args, initial_mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = columns
        for i, column in enumerate(columns):
            self.fields[f"col{i}"] = forms.ChoiceField(
                label=column, choices=TARGET_CHOICES, initial=initial_mapping.get(column, importing.ATTRIBUTE)
            )

    def mapping(self) -> dict[str, str]:
        return {column: self.cleaned_data[f"col{i}"] for i, column in enumerate(self.columns)}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                importing.check_mapping(self.columns, self.mapping())
            except importing.ImportRefused as refused:
                raise forms.ValidationError(refused.message) from None
        return cleaned


@manager_required(IMPORT_REFUSAL)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            job = importing.create_job(
                actor=request.user, upload=form.cleaned_data["file"], total_rows=form.row_count
            )
            return redirect("import-job", pk=job.pk)
        return _upload_page(request, form, status=400)
    return _upload_page(request, UploadForm())


def _upload_page(request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "jobs": ImportJob.objects.select_related("created_by")[:10],
        "fields": importing.FIELDS,
        "max_mb": importing.MAX_FILE_BYTES // (1024 * 1024),
    }
    return render(request, "crm/import_upload.html", context, status=status)


@manager_required(IMPORT_REFUSAL)
@require_http_methods(["GET", "POST"])
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Before Start: the preview and the mapping (POST starts it); after: the progress, then the summary."""
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if job.status != ImportJob.Status.UPLOADED:
        return render(request, "crm/import_job.html", {"job": job, **_status_context(job)})
    try:
        with job.file.open("rb") as stored:
            csv_file = importing.read_csv(stored.read())
    except FileNotFoundError:
        return message_response(request, 404, "The uploaded file is gone; upload it again.")
    except importing.ImportRefused as refused:
        return message_response(request, 400, refused.message)
    initial = importing.auto_mapping(csv_file.columns)
    data = request.POST if request.method == "POST" else None
    form = MappingForm(csv_file.columns, data, initial_mapping=initial)
    recount = data is not None and "recount" in data
    if data is not None and form.is_valid() and not recount:
        importing.start_job(job.pk, actor=request.user, mapping=form.mapping())
        return redirect("import-job", pk=job.pk)
    mapping = form.mapping() if recount and form.is_valid() else initial
    context = {"job": job, "form": form, "preview": csv_file.preview(), **_plan(csv_file, mapping)}
    ok = data is None or (recount and form.is_valid())
    return render(request, "crm/import_preview.html", context, status=200 if ok else 400)


def _plan(csv_file: importing.CsvFile, mapping: dict[str, str]) -> dict:
    """What the import would do with this mapping (a dry run): the counts, or why it would be refused."""
    try:
        plan = importing.import_leads(csv_file, mapping, dry_run=True)
        return {"plan": plan, "plan_note": importing.unkeyed_note(plan)}
    except importing.ImportRefused as refused:
        return {"plan_refused": refused}


@manager_required(IMPORT_REFUSAL)
@require_GET
def job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress partial the job page polls; once the job is finished, htmx's "stop polling" status (286)
    ends the polling, and the summary swapped in has no trigger of its own."""
    job = get_object_or_404(ImportJob, pk=pk)
    html = render_to_string("crm/partials/import_status.html", {"job": job, **_status_context(job)}, request)
    return HttpResponseStopPolling(html) if job.finished else HttpResponse(html)


def _status_context(job: ImportJob) -> dict:
    progress = importing.job_progress(job.pk)
    total = progress["total"] or job.total_rows
    percent = round(100 * progress["done"] / total) if total and progress["phase"] == "writing" else 0
    return {"progress": progress, "total": total, "percent": percent}


@login_required
@require_GET
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The leads the board shows with the same filters, as CSV; streamed, so any size downloads at once.

    Under ASGI (daphne) the lines come from an async iterator, which Django streams; a sync one it would read
    whole into memory first. Under WSGI (and the sync test client) they come from the sync generator.
    """
    leads = BoardFilter.from_request(request).apply(Lead.objects.all())
    lines = (
        exporting.async_csv_lines(leads) if isinstance(request, ASGIRequest) else exporting.csv_lines(leads)
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    filename = f"leads-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
