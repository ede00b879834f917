"""AAM file formats: outbound names, ``.info`` manifests, line parsing, inbound writing.

This package reads what Audience Manager sends to Campaign (outbound ``.sync``
files, their split parts and ``.info`` transfer-control manifests) and writes
what Campaign sends to Audience Manager (inbound ``ftp_dpm_...`` files).
See docs/reference.md §3 and docs/adobe.md "File formats".

Per-line problems in an incoming file are never exceptions: they are reported
as malformed lines in a :class:`Chunk`. Only a file that cannot be read at all
(corrupt or truncated gzip, a manifest that does not parse, an ID that cannot be
written) raises :class:`~core.errors.InputError`.

The modules: ``names`` (outbound and inbound file names), ``manifest`` (reading,
parsing and checking against ``.info`` manifests), ``batches`` (a listing grouped
into batches), ``lines`` (reading an outbound file in chunks of records) and
``inbound`` (writing inbound files).
"""

from core.formats.batches import Batch, IgnoredName, classify_names, group_batches
from core.formats.inbound import (
    MAX_INBOUND_BYTES,
    MAX_INBOUND_GZ_INPUT_BYTES,
    MAX_INBOUND_LINE_BYTES,
    format_inbound_line,
    has_colon,
    has_control,
    write_inbound,
)
from core.formats.lines import (
    MAX_LINE_BYTES,
    Chunk,
    count_lines,
    excerpt,
    iter_file_chunks,
    read_chunks,
)
from core.formats.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestFile,
    ManifestTotals,
    parse_manifest,
    read_manifest,
    verify_part,
)
from core.formats.names import (
    BatchKey,
    OutboundName,
    SyncMode,
    inbound_name,
    manifest_name,
    parse_batch_key,
    parse_manifest_name,
    parse_outbound_name,
)

__all__ = [
    "MAX_INBOUND_BYTES",
    "MAX_INBOUND_GZ_INPUT_BYTES",
    "MAX_INBOUND_LINE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_MANIFEST_BYTES",
    "Batch",
    "BatchKey",
    "Chunk",
    "IgnoredName",
    "Manifest",
    "ManifestFile",
    "ManifestTotals",
    "OutboundName",
    "SyncMode",
    "classify_names",
    "count_lines",
    "excerpt",
    "format_inbound_line",
    "group_batches",
    "has_colon",
    "has_control",
    "inbound_name",
    "iter_file_chunks",
    "manifest_name",
    "parse_batch_key",
    "parse_manifest",
    "parse_manifest_name",
    "parse_outbound_name",
    "read_chunks",
    "read_manifest",
    "verify_part",
    "write_inbound",
]
