"""API key scopes: ``read`` for safe methods, ``write`` for changes, ``admin`` where a view asks for it.

Session users are not limited here: their role permissions decide, as in the HTML views.
A key never adds permissions; it can only narrow what its user may do.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.models import APIKey


def required_scope(request, view) -> str:
    declared = getattr(view, "required_scope", None)
    if declared:
        return declared
    return APIKey.Scope.READ if request.method in SAFE_METHODS else APIKey.Scope.WRITE


class APIKeyScopePermission(BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, APIKey):
            return True
        scope = required_scope(request, view)
        if request.auth.has_scope(scope):
            return True
        self.message = f"Dem API-Schlüssel fehlt die Berechtigung „{scope}“."
        return False


class IsAdminUser(BasePermission):
    """Configuration endpoints: superusers and holders of ``system.change_systemconfig``."""

    message = "Nur für Administratoren."

    def has_permission(self, request, view):
        user = request.user
        if request.method in SAFE_METHODS:
            return bool(user and (user.is_superuser or user.has_perm("system.view_systemconfig")))
        return bool(user and (user.is_superuser or user.has_perm("system.change_systemconfig")))
