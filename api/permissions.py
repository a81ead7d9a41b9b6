from rest_framework.permissions import BasePermission

from crm.permissions import is_manager


class IsManager(BasePermission):
    message = "Only managers may do this."

    def has_permission(self, request, view) -> bool:
        return is_manager(request.user)
