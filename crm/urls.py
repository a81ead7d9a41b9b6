from django.urls import path

from crm import analytics_views, dashboard, import_views, views

urlpatterns = [
    path("leads/kanban/", views.board, name="board"),
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
    path("dashboard-enhanced/", dashboard.dashboard, name="dashboard"),
    path("dashboard-enhanced/train/", dashboard.train, name="train-model"),
]
