"""Emails rendered by name: templates/emails/<name>-subject.txt, <name>-body.txt and <name>-body.html."""

from email.mime.base import MIMEBase

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def render(name: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body). The subject is one line whatever the template's whitespace."""
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    text = render_to_string(f"emails/{name}-body.txt", context)
    html = render_to_string(f"emails/{name}-body.html", context)
    return subject, text, html


def make(
    name: str,
    context: dict,
    *,
    to: list[str],
    headers: dict | None = None,
    attachments: list[MIMEBase] = (),
    connection=None,
) -> EmailMultiAlternatives:
    subject, text, html = render(name, context)
    message = EmailMultiAlternatives(subject, text, to=to, headers=headers or {}, connection=connection)
    message.attach_alternative(html, "text/html")
    for part in attachments:
        message.attach(part)
    return message
