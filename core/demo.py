"""A self-contained demo workspace: an environment, profiles and AAM files, fully offline.

Everything is generated from a fixed seed, so the demo (and the screenshots
made from it) are the same on every machine. The audience files are built
so that every reconciliation outcome of docs/reference.md §4 is present.

Two deliveries: :func:`build_demo` writes the first (four destinations);
:func:`deliver_next` writes the next day's batch, which the demo leaves
waiting behind a paused workflow. One data source carries a deliberate slip
(:data:`SLIP_LABEL` shares its alias and priority with the email one) for the
checklist to find.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.cipher import encrypt_batch, hash_batch, parse_iv, parse_key
from core.errors import InputError
from core.model import (
    Account,
    AccountType,
    Channel,
    DataSource,
    Environment,
    IdType,
    ProvisioningRequest,
    Role,
    Tracking,
    Transform,
)
from core.secrets import Secret
from core.text import printable_name

DEMO_ENV = "demo"
ORG_ID = "5DC5123F5245B1D20A490D46@AdobeOrg"
# The SP 800-38A AES-256 test key and a counting IV: demo values, never real ones.
DEMO_KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
DEMO_IV_HEX = "000102030405060708090a0b0c0d0e0f"
WRONG_KEY_HEX = "2b7e151628aed2a6abf7158809cf4f3c2b7e151628aed2a6abf7158809cf4f3c"
# The SMS data source uses AES-192 (the SP 800-38A AES-192 test key): a second key size.
DEMO_SMS_KEY_HEX = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
DEMO_SMS_IV_HEX = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
#: AAM delivers about 14:00 UTC; the demo's delivery is on 2026-11-01.
DELIVERY = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
#: The data source with the deliberate slip: it shares the email source's alias and priority.
SLIP_LABEL = "Recipient - CRM ID (SHA-256)"
#: A priority that fixes the slip (distinct from the email source's 10).
SLIP_FIXED_PRIORITY = 5
EMAIL_LABEL = "Recipient - Email (AES)"
DECLARED_ALIAS = "Adobe Campaign Declared ID"
#: Segment IDs per destination: AAM maps each segment to the destinations that carry it.
SEGMENTS = {
    46391: ("201", "202", "203"),  # declared emails (AES)
    46390: ("301", "302", "303"),  # visitor IDs
    46392: ("401", "402"),  # mobile numbers (AES-192)
    46393: ("501", "502"),  # CRM IDs (SHA-256)
}

FIRST = ("alice", "bruno", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jules")
LAST = ("martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand")


@dataclass(frozen=True)
class DemoWorkspace:
    root: Path
    db_path: Path
    profiles_csv: Path
    visitors_csv: Path
    inbox: Path  # the import account's folder: what AAM sends
    outbox: Path  # the export account's folder: what Campaign sends to AAM
    website: Path
    env: Environment


def demo_environment(root: Path) -> Environment:
    """The demo's environment: local-folder accounts and four data sources."""
    return Environment(
        name=DEMO_ENV,
        request=ProvisioningRequest(
            organization="Demo Retail Inc.",
            ims_org_id=ORG_ID,
            environment="Production",
            service="Adobe Audience Manager",
            id_type="Declared ID",
            additional_info="Demo workspace built by `audiencectl demo`.",
        ),
        import_account=Account(Role.IMPORT, AccountType.LOCAL, path=str(root / "aam-outbound")),
        export_account=Account(Role.EXPORT, AccountType.LOCAL, path=str(root / "aam-inbound")),
        tracking=Tracking(
            server="t.news.demo-retail.example",
            website="https://www.demo-retail.example",
            website_file=str(root / "website" / "index.html"),
        ),
        datasources=(
            DataSource(
                label=EMAIL_LABEL,
                alias=DECLARED_ALIAS,
                dpid=14016,
                destination_id=46391,
                priority=10,
                id_type=IdType.DECLARED,
                reconciliation_key="email",
                transform=Transform.AES,
                aes_key=Secret("literal", DEMO_KEY_HEX),
                aes_iv=Secret("literal", DEMO_IV_HEX),
                channel=Channel.EMAIL,
            ),
            DataSource(
                label="Recipient - Visitor ID",
                alias="Adobe Campaign",
                dpid=14016,
                destination_id=46390,
                priority=0,
                id_type=IdType.VISITOR,
            ),
            DataSource(
                label="Recipient - Mobile (AES)",
                alias="Adobe Campaign SMS",
                dpid=14017,
                destination_id=46392,
                priority=5,
                id_type=IdType.DECLARED,
                reconciliation_key="mobile_phone",
                transform=Transform.AES,
                aes_key=Secret("literal", DEMO_SMS_KEY_HEX),
                aes_iv=Secret("literal", DEMO_SMS_IV_HEX),
                channel=Channel.SMS,
            ),
            # The slip: created by copying the email data source, it kept its alias and
            # priority 10, so which of the two matches the alias first is undefined.
            DataSource(
                label=SLIP_LABEL,
                alias=DECLARED_ALIAS,
                dpid=14016,
                destination_id=46393,
                priority=10,
                id_type=IdType.DECLARED,
                reconciliation_key="customer_id",
                transform=Transform.SHA256,
                channel=Channel.OTHER,
            ),
        ),
    )


def _ecid(rng: random.Random) -> str:
    return f"{rng.randrange(10**18, 9 * 10**18):019d}{rng.randrange(10**18, 9 * 10**18):019d}"


def _profiles(rng: random.Random, count: int) -> list[dict[str, str]]:
    rows = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{n}@demo-retail.example"
        if n % 17 == 0:
            email = f"  {email.title()} "  # the profile side needs normalizing too
        if n % 23 == 0:
            email = ""  # no email: unreachable by the email data source
        digits = f"6{n:08d}"
        phone = f"+33 {digits[0]} {digits[1:3]} {digits[3:5]} {digits[5:7]} {digits[7:9]}"
        rows.append(
            {
                "id": f"P{n:05d}",
                "email": email,
                "mobile_phone": phone,
                "customer_id": f"CRM-{100000 + n}",
                "first_name": first.title(),
            }
        )
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _segments(rng: random.Random, destination: int) -> str:
    return ",".join(sorted(rng.sample(SEGMENTS[destination], rng.randint(1, 2))))


def _stamp(offset: int = 0) -> int:
    return int(DELIVERY.timestamp()) * 1000 + offset


def _write_part(path: Path, lines: list[str], gz: bool) -> dict[str, object]:
    data = ("\n".join(lines) + "\n").encode()
    raw = gzip.compress(data, mtime=0) if gz else data
    path.write_bytes(raw)
    return {
        "FileName": path.name,
        "FileLineCount": len(lines),
        "FileByteSize": len(raw),
        "md5": hashlib.md5(raw, usedforsecurity=False).hexdigest(),
    }


def _email_batch(rng: random.Random, profiles: list[dict[str, str]], inbox: Path) -> None:
    """Destination 46391 (AES emails), a full batch in two parts (one gzipped) with .info."""
    key, iv = parse_key(DEMO_KEY_HEX), parse_iv(DEMO_IV_HEX)
    with_email = [p for p in profiles if p["email"].strip()]
    members = rng.sample(with_email, 120)
    clear = [
        p["email"].strip().upper() if i % 9 == 0 else p["email"] for i, p in enumerate(members)
    ]
    unknown = [f"nobody{n}@elsewhere.example" for n in range(4)]
    good = encrypt_batch(key, iv, [c.encode() for c in clear + unknown])
    hexed = [c.hex() for c in good]
    wrong = encrypt_batch(parse_key(WRONG_KEY_HEX), iv, [b"carol@demo-retail.example"] * 1)
    junk_utf8 = encrypt_batch(key, iv, [b"\xff\xfe\x80 not text"])
    not_email = encrypt_batch(key, iv, [b"customer 4711", b"call me maybe"])
    lines = [f"{h} {_segments(rng, 46391)}" for h in hexed]
    lines += [
        f"{wrong[0].hex()} 201",  # another key: bad padding (or garbage)
        f"{junk_utf8[0].hex()} 202",  # decrypts, but not text
        f"{not_email[0].hex()} 201",
        f"{not_email[1].hex()} 203",  # decrypt fine, not emails
        "zz-not-hex-at-all 201",  # not ciphertext
        f"{hexed[0][:-6]} 202",  # truncated: not a multiple of 16 bytes
        f"{hexed[1]}",  # no segment field: malformed
        f"{hexed[2]} 201,x,202",  # segment list broken: malformed
    ]
    rng.shuffle(lines)
    half = len(lines) // 2
    part1, part2 = lines[:half], lines[half:]
    part2 += [part1[3], part1[7]]  # AAM repeats some IDs across split parts: duplicates
    base = f"ftp_46391_14016_full_{_stamp()}"
    files = [
        _write_part(inbox / f"{base}001.sync.gz", part1, gz=True),
        _write_part(inbox / f"{base}002.sync", part2, gz=False),
    ]
    for number, entry in enumerate(files, start=1):
        entry["FileSequenceNumber"] = number
    manifest = {  # AAM's transfer-control form (docs/adobe.md "File formats")
        "Files": files,
        "Totals": {
            "FileName": f"{base}.sync",
            "TotalByteSize": sum(int(str(f["FileByteSize"])) for f in files),
            "TotalNumberFiles": len(files),
            "TotalNumberLines": sum(int(str(f["FileLineCount"])) for f in files),
        },
    }
    text = json.dumps(manifest, indent=2)
    bare_keys = (
        "Files",
        "Totals",
        "FileName",
        "FileLineCount",
        "FileByteSize",
        "FileSequenceNumber",
        "md5",
        "TotalByteSize",
        "TotalNumberFiles",
        "TotalNumberLines",
    )
    for bare in bare_keys:
        text = text.replace(f'"{bare}":', f"{bare}:")  # AAM writes unquoted keys
    (inbox / f"{base}.info").write_text(text + "\n", encoding="utf-8")


def _visitor_file(rng: random.Random, visitors: list[dict[str, str]], inbox: Path) -> None:
    """Destination 46390 (visitor IDs), an iter file with additions and removals."""
    known = rng.sample(visitors, 60)
    lines = [f"{v['visitor_id']}\t{_segments(rng, 46390)}" for v in known[:50]]
    lines += [f"{v['visitor_id']}\t302\t301" for v in known[50:]]  # removed from 301
    lines += [f"{_ecid(rng)}\t301" for _ in range(3)]  # visitors never seen in Campaign
    lines += ["12345678901234567890\t301", "9" * 38 + "\t303"]  # not ECIDs
    lines += [lines[0], "   ", "", "garbage-line-without-tabs"]
    _write_part(inbox / f"ftp_46390_14016_iter_{_stamp(3_600_000)}.sync", lines, gz=False)


#: How people write a mobile number before normalization (all reach +33 6 ... ).
PHONE_STYLES = (
    lambda p: p.replace(" ", ""),  # +33600000001
    lambda p: "00" + p[1:].replace(" ", "."),  # 0033.6.00.00.00.01
    lambda p: p.replace(" ", "-"),  # +33-6-00-00-00-01
    lambda p: p.replace("+33 ", "+33 (0)", 1),  # +33 (0)6 00 00 00 01
)


def _phone_file(rng: random.Random, profiles: list[dict[str, str]], inbox: Path) -> None:
    """Destination 46392 (AES-192 mobile numbers, SMS channel).

    The website encrypts the number as the visitor typed it; decryption then
    normalization brings every style back to the profile's number.
    """
    key, iv = parse_key(DEMO_SMS_KEY_HEX), parse_iv(DEMO_SMS_IV_HEX)
    members = rng.sample(profiles, 40)
    raw = [PHONE_STYLES[i % len(PHONE_STYLES)](p["mobile_phone"]) for i, p in enumerate(members)]
    raw += ["+33699999999", "call-center", "12"]  # unknown number, then two non-numbers
    hexed = [c.hex() for c in encrypt_batch(key, iv, [r.encode() for r in raw])]
    lines = [f"{h} {_segments(rng, 46392)}" for h in hexed]
    _write_part(inbox / f"ftp_46392_14017_full_{_stamp(7_200_000)}.sync", lines, gz=False)


def _crm_file(rng: random.Random, profiles: list[dict[str, str]], inbox: Path) -> None:
    """Destination 46393 (SHA-256 of the CRM ID), with a few truncated hashes."""
    members = rng.sample(profiles, 30)
    digests = hash_batch(Transform.SHA256, [p["customer_id"] for p in members])
    lines = [f"{d} {_segments(rng, 46393)}" for d in digests]
    lines += [f"{digests[0][:40]} 501", f"{digests[1]}ab 502"]  # sha1-sized, too long
    lines += [f"{hash_batch(Transform.SHA256, ['CRM-999999'])[0]} 501"]
    _write_part(inbox / f"ftp_46393_14016_full_{_stamp(10_800_000)}.sync", lines, gz=False)


#: The next day's delivery, which arrives after the demo's first import pass.
NEXT_DELIVERY_OFFSET_MS = 24 * 3_600_000


def next_batch_name() -> str:
    """The file name of the next day's batch (destination 46391, an iter file)."""
    return f"ftp_46391_14016_iter_{_stamp(NEXT_DELIVERY_OFFSET_MS)}.sync"


def deliver_next(workspace: DemoWorkspace) -> Path:
    """Writes the next day's batch into the import folder: 36 AES emails, 30 known
    profiles (6 of them leaving segment 201) and one unknown address."""
    rng = random.Random(2027)
    with workspace.profiles_csv.open(newline="", encoding="utf-8") as fh:
        emails = [row["email"] for row in csv.DictReader(fh) if row["email"].strip()]
    members = rng.sample(emails, 30)
    key, iv = parse_key(DEMO_KEY_HEX), parse_iv(DEMO_IV_HEX)
    clear = [e.strip() for e in members] + ["newcomer@elsewhere.example"]
    hexed = [c.hex() for c in encrypt_batch(key, iv, [c.encode() for c in clear])]
    lines = [f"{h}\t{_segments(rng, 46391)}" for h in hexed[:24]]
    lines += [f"{h}\t203\t201" for h in hexed[24:30]]  # moved from 201 to 203
    lines += [f"{hexed[30]}\t202"]
    path = workspace.inbox / next_batch_name()
    _write_part(path, lines, gz=False)
    return path


WEBSITE = """<!doctype html>
<html><head><title>Demo Retail</title>
<script src="/js/VisitorAPI.js"></script>
<script>
  var visitor = Visitor.getInstance("{org}", {{
    trackingServer: "t.news.demo-retail.example"
  }});
  visitor.setCustomerIDs({{
    "AdobeCampaignID": {{ "id": window.hashedEmail, "authState": 1 }}
  }});
</script></head><body>Demo Retail</body></html>
"""


class DemoFolderError(InputError):
    """The folder asked for holds things the demo did not make: it is left alone."""


#: The file that marks a folder as made by the demo: only such a folder is ever rewritten.
DEMO_MARKER = ".audiencectl-demo"
#: How many of a refused folder's entries the refusal names.
LISTED_ENTRIES = 5


def is_demo_folder(root: Path) -> bool:
    """True if ``root`` was made by the demo (it holds the marker file)."""
    return (root / DEMO_MARKER).is_file()


def check_demo_folder(root: Path) -> None:
    """Refuses a folder that exists, is not empty and was not made by the demo."""
    if not root.exists():
        return
    if not root.is_dir():
        raise DemoFolderError(
            f"{printable_name(str(root))} is not a folder", "give --dir an empty or new folder"
        )
    if is_demo_folder(root):
        return
    entries = sorted(p.name for p in root.iterdir())
    if not entries:
        return
    shown = ", ".join(printable_name(n) for n in entries[:LISTED_ENTRIES])
    more = f" and {len(entries) - LISTED_ENTRIES} more" if len(entries) > LISTED_ENTRIES else ""
    raise DemoFolderError(
        f"{printable_name(str(root))} is not made by the demo and holds {shown}{more}",
        "give --dir an empty or new folder; the demo never touches other files",
    )


def build_demo(root: Path, profiles: int = 400) -> DemoWorkspace:
    """Writes the demo's files under ``root``: a new or empty folder, or one the demo made
    (then refreshed). Any other folder is refused (:class:`DemoFolderError`)."""
    check_demo_folder(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text(
        "Made by `audiencectl demo`; `audiencectl demo --reset` may rewrite this folder.\n",
        encoding="utf-8",
    )
    rng = random.Random(2026)
    inbox, outbox, website = root / "aam-outbound", root / "aam-inbound", root / "website"
    for folder in (inbox, outbox, website):
        folder.mkdir(parents=True, exist_ok=True)
    for old in inbox.iterdir():
        if old.is_file():
            old.unlink()
    rows = _profiles(rng, profiles)
    profiles_csv = root / "profiles.csv"
    _write_csv(profiles_csv, rows, list(rows[0]))
    visitors = [
        {"profile_id": p["id"], "visitor_id": _ecid(rng)} for p in rows[: profiles * 3 // 4]
    ]
    visitors_csv = root / "visitors.csv"
    _write_csv(visitors_csv, visitors, ["profile_id", "visitor_id"])
    _email_batch(rng, rows, inbox)
    _visitor_file(rng, visitors, inbox)
    _phone_file(rng, rows, inbox)
    _crm_file(rng, rows, inbox)
    (website / "index.html").write_text(WEBSITE.format(org=ORG_ID), encoding="utf-8")
    return workspace_at(root)


def workspace_at(root: Path) -> DemoWorkspace:
    """The paths of a demo workspace under ``root``, without writing anything."""
    return DemoWorkspace(
        root=root,
        db_path=root / "audiencectl.db",
        profiles_csv=root / "profiles.csv",
        visitors_csv=root / "visitors.csv",
        inbox=root / "aam-outbound",
        outbox=root / "aam-inbound",
        website=root / "website" / "index.html",
        env=demo_environment(root),
    )
