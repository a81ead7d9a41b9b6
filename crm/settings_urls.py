from django.urls import path

from crm import settings_views as views

urlpatterns = [
    path("", views.index, name="settings"),
    path("stages/", views.stages, name="settings-stages"),
    path("stages/order/", views.stage_order, name="settings-stage-order"),
    path("stages/<int:pk>/", views.stage_edit, name="settings-stage"),
    path("stages/<int:pk>/shift/", views.stage_shift, name="settings-stage-shift"),
    path("stages/<int:pk>/merge/", views.stage_merge, name="settings-stage-merge"),
    path("stages/<int:pk>/delete/", views.stage_delete, name="settings-stage-delete"),
    path("team/", views.team_page, name="settings-team"),
    path("team/<int:pk>/role/", views.member_role, name="settings-member-role"),
    path("team/<int:pk>/deactivate/", views.member_deactivate, name="settings-member-deactivate"),
    path("team/<int:pk>/reactivate/", views.member_reactivate, name="settings-member-reactivate"),
    path("profile/", views.profile, name="settings-profile"),
    path("password/", views.password, name="settings-password"),
]
