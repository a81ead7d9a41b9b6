"""The browser's import (upload, preview and mapping, progress, summary) and the board's CSV export."""

import csv
import io
import re

import dramatiq
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm import events, importing
from crm.models import ImportJob, Lead
from tests.factories import LeadFactory, SourceFactory
from workers.actors import import_leads_job

BANK_LIKE = '"age";"job";"y";"duration"\n58;"management";"no";261\n44;"technician";"yes";151\n'


def upload(client, content: bytes | str, name: str = "prospects.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post("/leads/import/", {"file": SimpleUploadedFile(name, data, "text/csv")})


def queued_jobs(broker) -> list[int]:
    messages = [dramatiq.Message.decode(raw) for raw in list(broker.queues["default"].queue)]
    return [m.args[0] for m in messages if m.actor_name == "import_leads_job"]


def start(client, job: ImportJob, on_commit, **choices) -> object:
    with job.file.open("rb") as stored:
        columns = importing.read_csv(stored.read()).columns
    mapping = importing.auto_mapping(columns) | choices
    with on_commit():
        return client.post(f"/leads/import/{job.pk}/", {f"col{i}": mapping[c] for i, c in enumerate(columns)})


def test_agents_are_refused_the_import_with_a_reason(client, alice, stages):
    client.force_login(alice)

    response = client.get("/leads/import/")

    assert response.status_code == 403
    assert "Only managers can import leads." in response.content.decode()
    assert upload(client, BANK_LIKE).status_code == 403
    assert not ImportJob.objects.exists()


def test_the_upload_page_shows_the_form(as_manager, stages):
    response = as_manager.get("/leads/import/")

    assert response.status_code == 200
    assert 'type="file"' in response.content.decode()


def test_an_upload_stores_the_file_and_leads_to_its_preview(as_manager, manager, stages, settings):
    response = upload(as_manager, BANK_LIKE)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/leads/import/{job.pk}/"
    assert (job.status, job.created_by, job.total_rows, job.original_name) == (
        "uploaded",
        manager,
        2,
        "prospects.csv",
    )
    assert job.file.path.startswith(str(settings.MEDIA_ROOT / "imports"))


def test_a_file_that_is_not_csv_is_refused_in_place(as_manager, stages):
    response = upload(as_manager, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", name="photo.csv")

    assert response.status_code == 400
    assert "This is not a CSV file" in response.content.decode()
    assert 'type="file"' in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused_in_place(as_manager, stages, monkeypatch):
    monkeypatch.setattr(importing, "MAX_FILE_BYTES", 1024 * 1024)

    response = upload(as_manager, "name\n" + "Ada Lovelace\n" * 100_000)

    assert response.status_code == 400
    assert "larger than 1 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_preview_shows_the_first_rows_and_the_automatic_mapping(as_manager, stages):
    upload(as_manager, "Name;Email;industry\nAda;ada@example.com;retail\nBob;;health\n")
    job = ImportJob.objects.get()

    response = as_manager.get(f"/leads/import/{job.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "crm/import_preview.html" in [t.name for t in response.templates]
    assert "<td>ada@example.com</td>" in page and "<td>health</td>" in page
    form = response.context["form"]
    assert [form[f"col{i}"].value() for i in range(3)] == ["name", "email", "attribute"]


def test_a_bad_mapping_is_shown_in_place_and_starts_nothing(as_manager, stages, broker, on_commit):
    upload(as_manager, "Name;Email\nAda;ada@example.com\n")
    job = ImportJob.objects.get()

    response = start(as_manager, job, on_commit, Email="name")

    assert response.status_code == 400
    assert "Columns “Name” and “Email” are both mapped to name" in response.content.decode()
    assert ImportJob.objects.get().status == "uploaded"
    assert queued_jobs(broker) == []


def test_start_queues_the_job_with_its_mapping(as_manager, stages, broker, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()

    response = start(as_manager, job, on_commit, y="converted", duration="ignore")

    job.refresh_from_db()
    assert response.status_code == 302
    assert job.status == "queued"
    assert job.mapping == {"age": "attribute", "job": "attribute", "y": "converted", "duration": "ignore"}
    assert queued_jobs(broker) == [job.pk]


def test_a_second_start_does_not_queue_the_job_again(as_manager, stages, broker, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()

    start(as_manager, job, on_commit)
    response = start(as_manager, job, on_commit)

    assert response.status_code == 200  # the job's page: it is already queued
    assert queued_jobs(broker) == [job.pk]


def test_the_status_keeps_polling_while_the_job_runs_and_shows_its_progress(as_manager, stages, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)
    cache.set(importing.progress_key(job.pk), {"phase": "writing", "done": 1, "total": 2})

    response = as_manager.get(f"/leads/import/{job.pk}/status/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in page
    assert "Writing 1 of 2 leads" in page
    assert '<progress value="1" max="2">50%</progress>' in page


def test_the_actor_imports_the_job_and_the_page_shows_the_summary(as_manager, manager, stages, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit, y="converted", duration="ignore")

    with on_commit():
        import_leads_job.fn(job.pk)

    job.refresh_from_db()
    assert (job.status, job.imported_count, job.message) == (
        "done",
        2,
        "Imported 2 leads: 2 created (1 in Lost, 1 in Won), 0 updated, 0 unchanged.",
    )
    assert Lead.objects.get(attributes__job="technician").stage.slug == "won"
    assert Lead.history.filter(history_user=manager).count() == 2
    status = as_manager.get(f"/leads/import/{job.pk}/status/")
    assert status.status_code == 286  # htmx stops polling
    assert "Imported 2 leads" in status.content.decode()
    assert "hx-trigger" not in status.content.decode()
    assert "Imported 2 leads" in as_manager.get(f"/leads/import/{job.pk}/").content.decode()


def test_a_redelivered_job_message_imports_nothing_twice(as_manager, stages, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)

    importing.run_job(job.pk)
    importing.run_job(job.pk)

    assert Lead.objects.count() == 2


def test_a_job_with_bad_rows_fails_with_their_lines_and_imports_nothing(as_manager, stages, on_commit):
    upload(as_manager, "name,value\nAda,1\nBob,lots\nCy,x\n")
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)

    importing.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.error_count) == ("failed", 2)
    assert job.errors == [
        {"line": 3, "message": "value “lots”: Enter a number."},
        {"line": 4, "message": "value “x”: Enter a number."},
    ]
    page = as_manager.get(f"/leads/import/{job.pk}/").content.decode()
    assert "Nothing was imported: 2 rows have errors." in page
    assert "Line 3: value “lots”: Enter a number." in page
    assert not Lead.objects.exists()


def test_a_job_whose_file_is_gone_fails_with_a_message(as_manager, stages, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)
    job.file.delete(save=False)

    importing.run_job(job.pk)

    assert ImportJob.objects.get().message == "The uploaded file is gone; upload it again."


def test_a_job_that_crashes_is_marked_failed_not_left_importing(as_manager, stages, on_commit, monkeypatch):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)

    def crash(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(importing, "import_leads", crash)
    with pytest.raises(MemoryError):
        importing.run_job(job.pk)

    job.refresh_from_db()
    assert (job.status, job.message) == (
        "failed",
        "The import stopped unexpectedly (MemoryError); nothing was imported.",
    )


def test_an_upload_without_a_file_is_an_error_in_place(as_manager, stages):
    response = as_manager.post("/leads/import/", {})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_a_preview_whose_file_is_gone_is_a_404_with_a_message(as_manager, stages):
    upload(as_manager, BANK_LIKE)
    ImportJob.objects.get().file.delete(save=False)

    response = as_manager.get(f"/leads/import/{ImportJob.objects.get().pk}/")

    assert response.status_code == 404
    assert "upload it again" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_start_runs_the_import_on_a_worker(client, manager, stages, broker, on_commit):
    """The whole path: the view queues the actor, a Dramatiq worker runs it, the job says it is done."""
    client.force_login(manager)
    upload(client, BANK_LIKE)
    job = ImportJob.objects.get()
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        start(client, job, on_commit, y="converted", duration="ignore")
        broker.join("default", timeout=20_000)
    finally:
        worker.stop()

    job.refresh_from_db()
    assert (job.status, job.imported_count) == ("done", 2)
    assert Lead.objects.count() == 2


# --- Export -------------------------------------------------------------------------------------------


def test_the_export_honours_the_boards_filters(client, alice, bob, stages):
    referral = SourceFactory(name="Referral")
    LeadFactory(name="Ada", stage=stages["new"], owner=alice, source=referral)
    LeadFactory(name="Adam", stage=stages["new"], owner=alice)
    LeadFactory(name="Bob", stage=stages["new"], owner=bob, source=referral)
    client.force_login(alice)

    response = client.get("/leads/export.csv", {"mine": "1", "source": referral.pk})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["name"], r["owner"], r["source"]) for r in rows] == [("Ada", "alice", "Referral")]


def test_the_board_links_to_the_export_with_its_filters_and_managers_to_the_import(
    client, alice, manager, stages
):
    client.force_login(alice)
    page = client.get("/leads/kanban/", {"q": "ada"}).content.decode()
    assert 'href="/leads/export.csv?q=ada"' in page
    assert 'href="/leads/import/"' not in page

    client.force_login(manager)
    assert 'href="/leads/import/"' in client.get("/leads/kanban/").content.decode()


def test_under_asgi_the_export_streams_from_an_async_iterator(alice, stages, monkeypatch):
    from asgiref.sync import async_to_sync
    from django.test import AsyncRequestFactory, RequestFactory

    from crm import exporting
    from crm.import_views import export_csv

    monkeypatch.setattr(exporting, "ASYNC_CHUNK", 2)
    for name in ("Ada", "=1+1", "Cy"):
        LeadFactory(name=name, stage=stages["new"])
    request = AsyncRequestFactory().get("/leads/export.csv")
    request.user = alice

    response = export_csv(request)

    assert response.is_async

    async def read() -> list[bytes]:
        return [part async for part in response]

    parts = async_to_sync(read)()
    assert len(parts) == 2  # the header and 3 leads, 2 lines a piece
    rows = list(csv.DictReader(io.StringIO(b"".join(parts).decode())))
    assert [r["name"] for r in rows] == ["Ada", "'=1+1", "Cy"]

    sync_request = RequestFactory().get("/leads/export.csv")
    sync_request.user = alice
    assert not export_csv(sync_request).is_async


def test_a_cell_over_the_csv_field_limit_is_a_400_naming_the_problem(as_manager, stages):
    response = upload(as_manager, "name,notes\nAda," + "x" * 2_000_000 + "\n")

    assert response.status_code == 400
    assert "Line 2 is not valid CSV: field larger than field limit" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_header_cell_over_the_csv_field_limit_is_a_400_naming_the_problem(as_manager, stages):
    response = upload(as_manager, "name," + "h" * 200_000 + "\nAda,1\n")

    assert response.status_code == 400
    assert "The header line is not valid CSV: field larger than field limit" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_long_non_ascii_file_name_is_kept_for_people_but_stored_under_a_generated_name(as_manager, stages):
    name = "é" * 200 + ".csv"
    response = upload(as_manager, BANK_LIKE, name=name)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert job.original_name == name
    assert "é" not in job.file.name and len(job.file.name) < 60


def test_an_import_whose_worker_died_is_queued_again_once_then_failed(
    as_manager, stages, on_commit, broker, published
):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)
    published.clear()

    def worker_dies():
        assert importing.claim_job(job.pk)
        cache.delete(importing.lease_key(job.pk))  # its heartbeat stops with it
        ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - importing.LEASE * 2)

    worker_dies()
    with on_commit():
        assert importing.reclaim_stalled_jobs() == [job.pk]
    assert ImportJob.objects.get().status == "queued"
    assert published == [events.ImportRequested(actor_id=job.created_by_id, job_id=job.pk)]

    worker_dies()
    assert importing.reclaim_stalled_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed" and "nothing was imported" in job.message
    status = as_manager.get(f"/leads/import/{job.pk}/status/")
    assert "hx-trigger" not in status.content.decode()  # the page stops polling


def test_a_running_import_with_a_live_heartbeat_is_left_alone(as_manager, stages, on_commit):
    upload(as_manager, BANK_LIKE)
    job = ImportJob.objects.get()
    start(as_manager, job, on_commit)
    assert importing.claim_job(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - importing.LEASE * 2)

    assert importing.reclaim_stalled_jobs() == []
    assert ImportJob.objects.get().status == "running"


REIMPORT = "external_id,name,company\nA1,Ada,Engines\nB2,Bob,Bits\nC3,Cy,Cyan\n"


def plan_counts(page: str) -> dict[str, int]:
    """The preview's counts: {"created": n, "updated": n, "unchanged": n}."""
    return {name: int(n) for name, n in re.findall(r'data-count="(\w+)">(\d+)', page)}


def test_the_preview_says_how_many_leads_will_be_created_updated_and_unchanged(as_manager, stages):
    LeadFactory(name="Ada", external_id="A1", company="Engines", stage=stages["new"])
    LeadFactory(name="Bob", external_id="B2", company="Old Bits", stage=stages["new"])
    upload(as_manager, REIMPORT)
    job = ImportJob.objects.get()

    response = as_manager.get(f"/leads/import/{job.pk}/")

    assert response.status_code == 200
    assert plan_counts(response.content.decode()) == {"created": 1, "updated": 1, "unchanged": 1}
    assert Lead.objects.get(external_id="B2").company == "Old Bits"  # counted, not written


def test_counting_again_uses_the_chosen_mapping_and_starts_nothing(as_manager, stages, broker):
    LeadFactory(name="Bob", external_id="B2", company="Old Bits", stage=stages["new"])
    upload(as_manager, REIMPORT)
    job = ImportJob.objects.get()

    fields = {"col0": "external_id", "col1": "name", "col2": "ignore", "recount": "1"}
    response = as_manager.post(f"/leads/import/{job.pk}/", fields)

    assert response.status_code == 200
    assert plan_counts(response.content.decode()) == {"created": 2, "updated": 0, "unchanged": 1}
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED and not queued_jobs(broker)


def test_the_preview_warns_that_rows_without_a_key_would_be_created_again(as_manager, stages):
    upload(as_manager, "name,email\nAda,ada@example.com\nBob,\nCy,\n")
    job = ImportJob.objects.get()

    page = as_manager.get(f"/leads/import/{job.pk}/").content.decode()

    assert 'data-unkeyed="2"' in page
    assert "2 rows have neither an external_id nor an email" in page


def test_the_preview_warns_of_rows_the_import_would_refuse(as_manager, stages):
    upload(as_manager, "name,value\nAda,1\nBob,lots\n")
    job = ImportJob.objects.get()

    page = as_manager.get(f"/leads/import/{job.pk}/").content.decode()

    assert "would be refused" in page and "line 3: value “lots”: Enter a number." in page


def test_a_second_import_of_the_same_file_reports_every_row_unchanged(as_manager, stages, on_commit):
    for _ in range(2):
        upload(as_manager, REIMPORT)
        job = ImportJob.objects.latest("pk")
        start(as_manager, job, on_commit)
        with on_commit():
            import_leads_job.fn(job.pk)

    job.refresh_from_db()
    assert job.message == "Imported 3 leads: 0 created, 0 updated, 3 unchanged."
    assert Lead.objects.count() == 3
    assert "0 created, 0 updated, 3 unchanged" in as_manager.get(f"/leads/import/{job.pk}/").content.decode()
