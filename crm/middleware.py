"""Times are entered and shown in the user's own zone (their profile), stored in UTC."""

from django.utils import timezone

from crm.models import user_zone


class UserTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        # Only for this request: the thread (a pool's, or a test's) goes on to serve someone else.
        with timezone.override(user_zone(user)):
            return self.get_response(request)
