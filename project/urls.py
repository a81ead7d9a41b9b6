from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from api import pages as api_pages
from project import health

handler500 = "project.errors.handler500"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("", RedirectView.as_view(url="/leads/kanban/", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("crm.urls")),
    path("api/v1/", include("api.urls")),
    path("profile/", api_pages.profile, name="profile"),
    path("profile/tokens/<int:pk>/revoke/", api_pages.revoke, name="token-revoke"),
    path("settings/webhooks/", include("webhooks.urls")),
    path("settings/", include("crm.settings_urls")),
    # A new member's emailed link (crm.team.send_set_password_link): Django's password-reset token.
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/set_password.html", success_url="/accounts/set-password/done/"
        ),
        name="set-password",
    ),
    path(
        "accounts/set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/set_password_done.html"),
        name="set-password-done",
    ),
]
