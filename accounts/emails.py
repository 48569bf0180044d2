"""Transactional e-mails rendered from templates/emails/<name>.{subject.txt,txt,html}."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts import tokens
from accounts.models import User


def _link(path: str) -> str:
    return f"{settings.FRONTEND_URL or settings.SITE_URL}{path}"


def send_template(to: str, name: str, context: dict[str, Any]) -> None:
    context = {"site_url": settings.SITE_URL, **context}
    subject = render_to_string(f"emails/{name}.subject.txt", context).strip()
    text = render_to_string(f"emails/{name}.txt", context)
    html = render_to_string(f"emails/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


def send_verification(user: User) -> None:
    token = tokens.email_verification_token(user)
    send_template(
        user.email,
        "verify_email",
        {"user": user, "token": token, "link": _link(f"/verify-email?token={token}")},
    )


def send_password_reset(user: User) -> None:
    token = tokens.password_reset_token(user)
    send_template(
        user.email,
        "reset_password",
        {"user": user, "token": token, "link": _link(f"/reset-password?token={token}")},
    )
