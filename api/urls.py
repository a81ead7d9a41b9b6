from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import views, webhooks

app_name = "api"  # the router's names (lead-detail, ...) must not shadow the pages'

router = DefaultRouter()
router.include_root_view = False
router.register("leads", views.LeadViewSet, basename="lead")
router.register(r"leads/(?P<lead_pk>\d+)/interactions", views.InteractionViewSet, basename="interaction")
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
    path("", include(router.urls)),
]
