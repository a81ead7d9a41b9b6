from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import analytics, follow_ups, views, webhooks

app_name = "api"  # the router's names (lead-detail, ...) must not shadow the pages'

router = DefaultRouter()
router.include_root_view = False
router.register("leads", views.LeadViewSet, basename="lead")
router.register(r"leads/(?P<lead_pk>\d+)/interactions", views.InteractionViewSet, basename="interaction")
router.register("leads", follow_ups.SnoozeViewSet, basename="lead-snooze")
router.register(
    r"leads/(?P<lead_pk>\d+)/follow-ups", follow_ups.LeadFollowUpViewSet, basename="lead-follow-up"
)
router.register("follow-ups", follow_ups.FollowUpViewSet, basename="follow-up")
router.register("stages", views.StageViewSet, basename="stage")
router.register("sources", views.SourceViewSet, basename="source")
router.register("users", views.UserViewSet, basename="user")
router.register("webhooks", webhooks.WebhookViewSet, basename="webhook")
router.register(r"webhooks/(?P<endpoint_pk>\d+)/deliveries", webhooks.DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("auth/token/", views.ObtainToken.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy allows no inline one.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("analytics/performance/", analytics.PerformanceView.as_view(), name="analytics-performance"),
    path("analytics/sources/", analytics.SourcesView.as_view(), name="analytics-sources"),
    path("analytics/sources/months/", analytics.MonthsView.as_view(), name="analytics-months"),
    path(
        "analytics/sources/recommendations/",
        analytics.RecommendationsView.as_view(),
        name="analytics-recommendations",
    ),
    path("analytics/dashboard/", analytics.TilesView.as_view(), name="analytics-dashboard"),
    path("", include(router.urls)),
]
