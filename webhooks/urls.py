from django.urls import path

from webhooks import views

urlpatterns = [
    path("", views.endpoints, name="webhook-endpoints"),
    path("<int:pk>/", views.endpoint, name="webhook-endpoint"),
    path("<int:pk>/test/", views.send_test, name="webhook-test"),
    path("<int:pk>/toggle/", views.toggle, name="webhook-toggle"),
    path("<int:pk>/delete/", views.delete, name="webhook-delete"),
]
