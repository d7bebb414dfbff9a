"""Email over SMTP: subject = the message's title, a plain-text body (text, one line per alert, the link),
STARTTLS when configured and a login when ``username`` is set.

The standard library's smtplib runs in a worker thread (``asyncio.to_thread``): a notification is a handful of
round trips, so an async SMTP client would add a dependency for no measurable gain.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

import httpx

from edgeplane.config.observe import ReceiverConfig
from edgeplane.observe.receivers.base import DeliveryError, Secrets, alert_lines

if TYPE_CHECKING:
    from edgeplane.observe.notify import Message

__all__ = ["KIND", "render", "send"]

KIND = "email"
SUBJECT_LIMIT = 250


def render(receiver: ReceiverConfig, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.title.split())[:SUBJECT_LIMIT]
    mail["From"] = receiver.sender or ""
    mail["To"] = ", ".join(receiver.to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="edgeplane")
    mail["X-Edgeplane-Kind"] = message.kind
    mail["X-Edgeplane-Group"] = " ".join(message.group_key.split())[:SUBJECT_LIMIT]
    parts = [message.title, ""]
    if message.text:
        parts += [message.text, ""]
    parts += alert_lines(message)
    labels = ", ".join(f"{k}={v}" for k, v in message.group_labels.items())
    parts += ["", f"severity: {message.severity}"] + ([f"labels: {labels}"] if labels else [])
    if message.incident:
        parts.append(f"incident: {message.incident}")
    if message.url:
        parts.append(f"link: {message.url}")
    mail.set_content("\n".join(parts) + "\n")
    return mail


def _deliver(receiver: ReceiverConfig, password: str | None, mail: EmailMessage) -> None:
    assert receiver.smtp_host is not None  # the config requires smtp_host for email receivers
    with smtplib.SMTP(receiver.smtp_host, receiver.smtp_port, timeout=receiver.timeout) as smtp:
        if receiver.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if receiver.username:
            if password is None:
                raise DeliveryError("username is set but password_env is not", retry=False)
            smtp.login(receiver.username, password)
        smtp.send_message(mail)


def _classify(exc: Exception, where: str) -> DeliveryError:
    """SMTP 4xx replies are temporary (retry), 5xx permanent; a lost connection is retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace')}" for rcpt, (code, msg) in exc.recipients.items()
        )
        return DeliveryError(f"{where} refused every recipient: {detail}", retry=all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return DeliveryError(f"{where} answered {exc.smtp_code} {text}", retry=400 <= exc.smtp_code < 500)
    if isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where}: STARTTLS failed: {exc}", retry=False)
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"no answer from {where} within the timeout", retry=True)
    return DeliveryError(f"cannot reach {where}: {exc or type(exc).__name__}", retry=True)


async def send(receiver: ReceiverConfig, secrets: Secrets, message: Message, http: httpx.AsyncBaseTransport) -> None:
    where = f"SMTP server {receiver.smtp_host}:{receiver.smtp_port}"
    try:
        await asyncio.to_thread(_deliver, receiver, secrets.password, render(receiver, message))
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        raise _classify(exc, where) from None
