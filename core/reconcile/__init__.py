"""Streaming reconciliation: one pipeline for ``dry-run`` and ``import run``.

An audience batch (the split parts of one AAM delivery) is streamed chunk by
chunk (``core.formats.read_chunks``); each chunk's IDs go through each routed
data source's ``IdCodec`` in one call, and the lookup keys are joined with
one index per data source, built once per run from a ``ProfileSource`` in an
in-memory DuckDB database (``engine``).

Per non-empty line exactly one outcome (docs/reference.md §4):

1. a malformed line (from the chunk) is ``malformed_line``;
2. an ID already seen in the same batch (all parts) is ``duplicate``;
3. the first data source, in priority order, whose index holds the ID's key
   gives ``reconciled``: every segment of the line gets the line's profiles
   as members, every removed segment gets them in ``removed``;
4. otherwise ``not_found`` when some data source could decode the ID, or else
   the highest-priority data source's own outcome (``bad_padding``, ...).

Duplicate lines add nothing to segments and are dropped where the file is
read, before decoding. Memory grows only with the distinct IDs of the batch
being read (a table of 128-bit fingerprints, ``_Seen``: 16 to 32 bytes per
ID; the chance of any false duplicate is about 1.5e-25 for a batch of ten
million distinct IDs) and the segment member sets. The profile index is a
DuckDB table of the distinct keys (``engine.ProfileIndex``), joined with the
decoded keys of about 256k lines at a time; DuckDB spills to a private
temporary directory past its memory limit.

A large batch of files on disk is read, deduplicated and decoded in a child
process while this one builds the profile index and then does the lookups
(``_Worker``); results are the same as in-process, which smaller batches use.
For hex AES e-mails the shape of an address is checked only for the keys not
found (``IdCodec.incoming_keys``): a key equal to a profile's key has it.

The modules:

- ``types``: the public types (inputs, results, progress, ``Cancelled``);
- ``codecs``: building a data source's ``IdCodec`` (shared with export);
- ``batches``: the one batch builder, for local folders and remote listings;
- ``engine``: the profile indexes in DuckDB, the join of decoded keys with them;
- ``seen``: the duplicate table of the decoding process;
- ``reading``: a batch's files read, deduplicated and decoded chunk by chunk;
- ``worker``: the decoding child process and its framing;
- ``samples``: unreconciled samples spread across outcomes;
- ``misses``: each data source's misses collected for forensics, and their causes;
- ``run``: routing and the run itself (``Reconciler``, ``reconcile_batches``);
- ``summary``: totals and the ``dry-run --json`` document.
"""

from core.reconcile.batches import (
    BatchPlan,
    OpenFile,
    batch_input,
    batches_from_paths,
    check_part,
    plan_batches,
)
from core.reconcile.codecs import build_codecs, make_codec
from core.reconcile.misses import MissCollector, SourceCause
from core.reconcile.run import Reconciler, reconcile_batches, route
from core.reconcile.summary import Summary, summarize
from core.reconcile.types import (
    CHUNK_LINES,
    SAMPLE_ID_CHARS,
    AudienceFile,
    BadBatchFile,
    BatchInput,
    BatchResult,
    Cancelled,
    IndexProgress,
    Progress,
    Sample,
    SegmentResult,
    index_words,
)

__all__ = [
    "CHUNK_LINES",
    "SAMPLE_ID_CHARS",
    "AudienceFile",
    "BadBatchFile",
    "BatchInput",
    "BatchPlan",
    "BatchResult",
    "Cancelled",
    "IndexProgress",
    "MissCollector",
    "OpenFile",
    "Progress",
    "Reconciler",
    "Sample",
    "SegmentResult",
    "SourceCause",
    "Summary",
    "batch_input",
    "batches_from_paths",
    "build_codecs",
    "check_part",
    "index_words",
    "make_codec",
    "plan_batches",
    "reconcile_batches",
    "route",
    "summarize",
]
