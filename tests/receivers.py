"""Local receivers for notification tests: an HTTP server that records every request and answers with scripted
status codes (to play a receiver that fails, then recovers), and an SMTP server (aiosmtpd) that records mail.
Both run in threads on 127.0.0.1, so they work with in-process notifiers and with a platform subprocess alike."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port

__all__ = [
    "HTTPReceiver", "Mail", "Request", "SMTPReceiver", "closed_port_url", "http_receiver", "make_certificates",
    "smtp_receiver", "wait_until",
]  # fmt: skip


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def closed_port_url(path: str = "/hook") -> str:
    """A URL where nothing listens: connections are refused at once (a receiver that is down)."""
    return f"http://127.0.0.1:{free_port()}{path}"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HTTPReceiver:
    """Records requests; answers each with the next scripted status (``fail_next``), else ``status``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.script: deque[int] = deque()
        self.headers: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                status = receiver.script.popleft() if receiver.script else receiver.status
                receiver.requests.append(
                    Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = b'{"status":"ok"}' if status < 300 else b'{"error":"scripted failure"}'
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def fail_next(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Request]:
        wait_until(lambda: len(self.to(path)) >= count, timeout, f"{count} request(s) to {path}")
        return self.to(path)

    def start(self) -> HTTPReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def build(subject: str, issuer: x509.Name | None, key: ec.EllipticCurvePrivateKey,
              signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:  # fmt: skip
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        )  # fmt: skip
        if ca:
            usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                  key_encipherment=False, data_encipherment=False, key_agreement=False,
                                  encipher_only=False, decipher_only=False)  # fmt: skip
            builder = builder.add_extension(usage, critical=True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("edgeplane test CA", None, ca_key, ca_key, ca=True)
    server = build("127.0.0.1", ca.subject, server_key, ca_key, ca=False)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))  # fmt: skip
    return paths


class SMTPReceiver:
    """aiosmtpd on 127.0.0.1 recording each mail. With ``tls_dir`` it offers STARTTLS (certificates made there;
    clients trust ``ca_file``) and with ``users`` it requires a login, over TLS only, like a real relay."""

    def __init__(self, users: dict[str, str] | None = None, tls_dir: Path | None = None) -> None:
        self.mails: list[Mail] = []
        self.users = users
        self.port = free_port()
        self.ca_file: Path | None = None
        receiver = self

        class Handler:
            async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
                content = envelope.original_content or b""
                message = message_from_bytes(content, policy=policy.default)
                assert isinstance(message, EmailMessage)
                login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
                receiver.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message, login))
                return "250 Message accepted for delivery"

        kwargs: dict[str, Any] = {}
        if tls_dir is not None:
            self.ca_file, cert, key = make_certificates(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            kwargs |= {"tls_context": context, "require_starttls": True}
        if users is not None:
            assert tls_dir is not None, "logins over plain text are refused; give tls_dir"
            kwargs |= {"authenticator": self._authenticate, "auth_required": True}
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.users is not None and isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        return AuthResult(success=ok, handled=False, auth_data=user.encode() if ok else None)

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Mail]:
        wait_until(lambda: len(self.mails) >= count, timeout, f"{count} mail(s)")
        return self.mails

    def start(self) -> SMTPReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def http_receiver() -> Iterator[HTTPReceiver]:
    server = HTTPReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SMTPReceiver]:
    server = SMTPReceiver().start()
    yield server
    server.stop()
