from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.ids import check_ims_org_id, check_numeric_id, is_ecid, is_ims_org_id, is_segment_list
from core.model import (
    Account,
    AccountType,
    DataSource,
    Environment,
    IdType,
    ProvisioningRequest,
    Role,
    Transform,
)
from core.secrets import Secret


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("5DC5123F5245B1D20A490D46@AdobeOrg", True),
        ("abcdefabcdefabcdefabcdef@AdobeOrg", True),
        ("5DC5123F5245B1D20A490D4@AdobeOrg", False),  # 23
        ("5DC5123F5245B1D20A490D466@AdobeOrg", False),  # 25
        ("5DC5123F5245B1D20A490D46@adobeorg", False),
        ("5DC5123F5245B1D20A490D46", False),
        ("5DC5123F-245B1D20A490D46@AdobeOrg", False),
    ],
)
def test_ims_org_id(value: str, ok: bool) -> None:
    assert is_ims_org_id(value) is ok


def test_check_ims_org_id_names_field_and_where_to_find_it() -> None:
    with pytest.raises(ValidationError) as info:
        check_ims_org_id("nope")
    assert info.value.field == "ims_org_id"
    assert "Administration" in info.value.hint


def test_ecid() -> None:
    assert is_ecid("08382830887934830189014177072406221371")
    assert not is_ecid("0838283088793483018901417707240622137")  # 37 digits
    assert not is_ecid("9" * 38)  # halves above 2^63-1
    assert not is_ecid("0838283088793483018901417707240622137a")
    assert is_ecid("9223372036854775807" + "9223372036854775807")
    assert not is_ecid("9223372036854775808" + "0000000000000000000")


def test_numeric_ids() -> None:
    assert check_numeric_id("14016", "dpid") == 14016
    assert check_numeric_id(46390, "destination_id") == 46390
    assert check_numeric_id("", "destination_id", required=False) is None
    for bad in ("Adobe Campaign (14016)", "-3", True, 0):
        with pytest.raises(ValidationError):
            check_numeric_id(bad, "dpid")
    assert is_segment_list("24,26,27")
    assert not is_segment_list("24,,26")
    assert not is_segment_list("")


def test_request_validates_choices() -> None:
    with pytest.raises(ValidationError) as info:
        ProvisioningRequest(environment="Prod")
    assert info.value.field == "environment"
    request = ProvisioningRequest(organization="Example", ims_org_id="")
    assert request.missing() == ["ims_org_id"]


def test_account_validation() -> None:
    with pytest.raises(ValidationError, match="port"):
        Account(Role.IMPORT, port=70000)
    with pytest.raises(ValidationError, match="host"):
        Account(Role.IMPORT, host="sftp://example.net")
    with pytest.raises(ValidationError, match="host_key"):
        Account(Role.IMPORT, host_key="MD5:aa:bb")
    account = Account(Role.EXPORT, host="sftp.example.net", user="u")
    assert account.missing() == ["password or private_key"]
    local = Account(Role.IMPORT, type=AccountType.LOCAL, path="/data/in")
    assert local.configured and local.endpoint == "local:/data/in"


def test_datasource_rules() -> None:
    with pytest.raises(ValidationError, match="reconciliation_key"):
        DataSource("d", id_type=IdType.DECLARED)
    with pytest.raises(ValidationError, match="aes_key"):
        DataSource("d", id_type="declared", reconciliation_key="email", transform="aes")
    with pytest.raises(ValidationError, match="transform"):
        DataSource("v", id_type="visitor", transform="sha256")
    ds = DataSource(
        "d",
        id_type="declared",
        reconciliation_key="email",
        transform="aes",
        aes_key=Secret("env", "K"),
        aes_iv=Secret("env", "IV"),
        triggers_only=True,
        dpid="14016",
    )
    assert ds.transform is Transform.AES and ds.dpid == 14016
    assert ds.missing() == ["alias"]


def test_environment_rejects_duplicate_labels_and_orders_by_priority() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        Environment("p", datasources=(DataSource("a"), DataSource("a")))
    env = Environment(
        "p", datasources=(DataSource("low", priority=1), DataSource("high", priority=5))
    )
    assert [ds.label for ds in env.by_priority()] == ["high", "low"]
    with pytest.raises(ValidationError):
        Environment("bad name!")


def test_secret_never_shows_its_value() -> None:
    secret = Secret.parse("hunter2")
    assert secret is not None
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in repr(Account(Role.IMPORT, password=secret))
    assert Secret.parse("env:PW").display() == "env:PW"  # references are not secret
