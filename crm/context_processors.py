from crm.permissions import is_manager


def roles(request) -> dict:
    user = getattr(request, "user", None)
    return {"is_manager": bool(user and is_manager(user))}
