"""The provisioning request check."""

from __future__ import annotations

from core.checks.base import (
    CheckRun,
    Verdict,
)
from core.model import (
    RequestStatus,
)

# ----------------------------------------------------------------------- the checks


def check_request(run: CheckRun) -> Verdict:
    request = run.env.request
    missing = request.missing()
    if missing:
        return Verdict(
            "fail",
            "the provisioning request is missing " + ", ".join(missing),
            "fill the organization and IMS Org ID (F3), then send the request to Adobe",
        )
    status = run.ctx.facts.request_status()
    what = (
        f"{request.organization}, {request.ims_org_id}, {request.environment}, "
        f"{request.service}, {request.id_type}; status {status.value}"
    )
    if status is RequestStatus.DRAFT:
        return Verdict(
            "warn",
            f"{what}: not sent yet",
            "send the request (F3: Copy email or Save .eml), then "
            "`audiencectl request status sent`",
        )
    if status is RequestStatus.SENT:
        return Verdict(
            "warn",
            f"{what}: waiting for Adobe to provision",
            "when Adobe answers with the accounts, alias and destination ID, "
            "`audiencectl request status provisioned`",
        )
    return Verdict("pass", what)
