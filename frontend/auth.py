"""Staff login: username and password, a TOTP code for those who have set one up, and at most
five failed attempts per username in 15 minutes. Counted per username, never per IP address
(no IP is stored; that is also why django-axes, which records addresses, is not used)."""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.forms import OTPAuthenticationFormMixin

from moderation.ratelimit import allow_shared, count_shared, reset_shared

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _key(username: str) -> str:
    return "login:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


class StaffLoginForm(OTPAuthenticationFormMixin, AuthenticationForm):  # type: ignore[misc]
    otp_token = forms.CharField(
        required=False,
        max_length=8,
        label=_("One-time code (if you use two-step login)"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    otp_error_messages = {
        **OTPAuthenticationFormMixin.otp_error_messages,
        "token_required": _("Enter the one-time code from your authenticator."),
        "invalid_token": _("The one-time code is wrong or has expired. Try the next one."),
        "n_failed_attempts": _("Too many wrong codes. Wait a moment and try again."),
        "verification_not_allowed": _("Too many wrong codes. Wait a moment and try again."),
    }
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed attempts. Wait 15 minutes and try again."),
    }

    def _chosen_device(self, user: Any) -> Any:
        """Staff have one authenticator each: use it (only ever one of the user's own)."""
        return next(iter(devices_for_user(user, confirmed=True)), None)

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        key = _key(username)
        if count_shared(key, WINDOW_SECONDS) >= MAX_FAILURES:
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            super().clean()
            user = self.get_user()
            if user is not None and any(devices_for_user(user, confirmed=True)):
                self.clean_otp(user)
        except forms.ValidationError:
            allow_shared(key, MAX_FAILURES, WINDOW_SECONDS)
            raise
        reset_shared(key)
        return self.cleaned_data
