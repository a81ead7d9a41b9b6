from django.urls import path

from realtime.consumers import BoardConsumer, DashboardConsumer, LeadConsumer, UserConsumer

websocket_urlpatterns = [
    path("ws/board/", BoardConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/me/", UserConsumer.as_asgi()),
    path("ws/lead/<int:pk>/", LeadConsumer.as_asgi()),
]
