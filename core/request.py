"""The provisioning request: the email Adobe asks for, as text, RFC 5322 message or JSON."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from core.errors import InputError
from core.model import REQUEST_TYPE, Environment, ProvisioningRequest

SUBJECT_PREFIX = "Provisioning request: AAM/People core service - Campaign integration"
ORG_ID_HINT = (
    "Your IMS Org ID is in Experience Cloud > Administration (Admin Console, Overview), "
    "and in the email you received when you first connected to the Experience Cloud."
)


def subject(request: ProvisioningRequest) -> str:
    return f"{SUBJECT_PREFIX} for {request.organization} ({request.environment})"


def fields(request: ProvisioningRequest) -> list[tuple[str, str]]:
    """The request's fields in the order and wording Adobe's page uses."""
    return [
        ("Request Type", REQUEST_TYPE),
        ("Organization Name", request.organization),
        ("IMS Org ID", request.ims_org_id),
        ("Environment", request.environment),
        ("AAM or People Service", request.service),
        ("Declared ID or Visitor ID", request.id_type),
        ("Additional Information", request.additional_info or "(none)"),
    ]


def body(request: ProvisioningRequest) -> str:
    lines = [
        "Hello,",
        "",
        "Please provision the integration between Adobe Campaign and "
        f"{request.service} for the organization below.",
        "",
    ]
    width = max(len(label) for label, _ in fields(request))
    for label, value in fields(request):
        value_lines = value.splitlines() or [""]
        lines.append(f"{label + ':':<{width + 1}} {value_lines[0]}")
        lines.extend(f"{'':<{width + 1}} {more}" for more in value_lines[1:])
    lines += [
        "",
        "Once provisioned, please send us the importSharedAudience and exportSharedAudience",
        "account details, the data source alias and the AAM destination ID.",
        "",
        "Thank you.",
    ]
    return "\n".join(lines) + "\n"


def _require_complete(request: ProvisioningRequest) -> None:
    if not request.complete:
        raise InputError(
            "the request is incomplete: missing " + ", ".join(request.missing()),
            "fill it in the console (Request screen) or in [request] of the TOML file",
        )


def render_text(env: Environment) -> str:
    _require_complete(env.request)
    return f"Subject: {subject(env.request)}\n\n{body(env.request)}"


def render_eml(
    env: Environment, *, to: str = "", sender: str = "", when: datetime | None = None
) -> bytes:
    """A complete RFC 5322 message (UTF-8, quoted-printable), ready to open and send."""
    _require_complete(env.request)
    msg = EmailMessage()
    msg["Subject"] = subject(env.request)
    if sender:
        msg["From"] = sender
    if to:
        msg["To"] = to
    if when is not None:
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = make_msgid(domain="audiencectl.invalid")
    msg["X-Unsent"] = "1"  # mail clients open it as a draft to send
    msg.set_content(body(env.request), charset="utf-8", cte="quoted-printable")
    return bytes(msg)


def render_json(env: Environment) -> dict[str, object]:
    _require_complete(env.request)
    return {
        "subject": subject(env.request),
        "fields": {label: value for label, value in fields(env.request)},
        "body": body(env.request),
    }
