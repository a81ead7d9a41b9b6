from django.urls import path

from crm import views

urlpatterns = [
    path("leads/kanban/", views.board, name="board"),
    path("leads/kanban/column/<slug:slug>/", views.column_more, name="column-more"),
    path("leads/new/", views.lead_create, name="lead-create"),
    path("leads/<int:pk>/", views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/move/", views.move, name="lead-move"),
    path("leads/<int:pk>/interactions/", views.interaction_create, name="interaction-create"),
]
