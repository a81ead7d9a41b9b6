from django.urls import path

from crm import analytics_views, dashboard, follow_up_views, import_views, views

urlpatterns = [
    path("leads/kanban/", views.board, name="board"),
    path("leads/kanban/headers/", views.board_headers, name="board-headers"),
    path("leads/kanban/column/<slug:slug>/", views.column_more, name="column-more"),
    path("leads/new/", views.lead_create, name="lead-create"),
    path("leads/import/", import_views.upload, name="import-upload"),
    path("leads/import/<int:pk>/", import_views.job_page, name="import-job"),
    path("leads/import/<int:pk>/status/", import_views.job_status, name="import-status"),
    path("leads/export.csv", import_views.export_csv, name="export-csv"),
    path("leads/performance/", analytics_views.performance, name="performance"),
    path("leads/source-heatmap/", analytics_views.source_heatmap, name="source-heatmap"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/move/", views.move, name="lead-move"),
    path("leads/<int:pk>/interactions/", views.interaction_create, name="interaction-create"),
    path("leads/<int:pk>/snooze/", follow_up_views.snooze, name="lead-snooze"),
    path("leads/<int:pk>/unsnooze/", follow_up_views.unsnooze, name="lead-unsnooze"),
    path("leads/<int:pk>/follow-ups/", follow_up_views.follow_up_create, name="follow-up-create"),
    path("follow-ups/", follow_up_views.due_list, name="follow-ups-due"),
    path("follow-ups/count/", follow_up_views.due_count, name="follow-ups-count"),
    path("follow-ups/<int:pk>/", follow_up_views.follow_up_edit, name="follow-up-edit"),
    path("follow-ups/<int:pk>/complete/", follow_up_views.follow_up_complete, name="follow-up-complete"),
    path("follow-ups/<int:pk>/cancel/", follow_up_views.follow_up_cancel, name="follow-up-cancel"),
    path("follow-ups/<int:pk>/invite.ics", follow_up_views.follow_up_invite, name="follow-up-invite"),
    path("account/time-zone/", follow_up_views.time_zone, name="time-zone"),
    path("dashboard-enhanced/", dashboard.dashboard, name="dashboard"),
    path("dashboard-enhanced/train/", dashboard.train, name="train-model"),
]
