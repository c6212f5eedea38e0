"""Staff login through an OpenID Connect provider (Entra ID / Ansattporten style): authorisation
code flow with PKCE (S256), ID tokens signed RS256 and checked against the provider's JWKS.
The provider's ``roles`` claim decides the user's groups at every login.

Enabled by ``VEIVALG_OIDC_ENABLED=1`` and the ``OIDC_*`` settings (docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

ROLE_GROUPS = {"counsellor", "supervisor", "statistician"}


def _username(claims: dict[str, Any]) -> str:
    return ("oidc-" + str(claims["sub"]))[:150]


class StaffOIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(username=_username(claims))

    def create_user(self, claims: dict[str, Any]) -> User:
        user: User = self.UserModel.objects.create_user(username=_username(claims))
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        user.first_name = str(claims.get("given_name", ""))[:150]
        user.save(update_fields=["first_name"])
        roles = set(claims.get("roles") or []) & ROLE_GROUPS
        user.groups.set(Group.objects.filter(name__in=roles))
        return user
