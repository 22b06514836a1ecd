"""Records: the canonical conversation and preference pair, the bounded file readers, and the format registry.

`from tunesmith.records import X` is the public import for every name below; the submodules are its parts:
`reading` (files to objects or findings), `conversation` and `pairs` (objects to canonical records), `formats`
(which format and which kind a file holds, and the loaders).
"""

from tunesmith.records.conversation import (
    FORMATS,
    ROLES,
    SHAREGPT_ROLES,
    TOOL_MESSAGE_KEYS,
    TOOL_RECORD_KEYS,
    TOOL_ROLES,
    Conversation,
    Format,
    Message,
    as_conversation,
    has_tool_call,
    role_order_problem,
    text_slots,
    to_record,
)
from tunesmith.records.formats import (
    DETECT_SAMPLE,
    PREFERENCE_FORMATS,
    REGISTRY,
    RecordFormat,
    RecordKind,
    detect_format,
    file_format,
    kind_of,
    load_preferences,
    load_records,
)
from tunesmith.records.pairs import PreferencePair, messages_key, normalize, parse_transcript, to_preference
from tunesmith.records.reading import (
    MAX_DEPTH,
    MAX_FIELD_BYTES,
    MAX_LINE_BYTES,
    Finding,
    LoadResult,
    json_safe,
    nesting_depth,
    read_items,
)

__all__ = [
    "DETECT_SAMPLE",
    "FORMATS",
    "MAX_DEPTH",
    "MAX_FIELD_BYTES",
    "MAX_LINE_BYTES",
    "PREFERENCE_FORMATS",
    "REGISTRY",
    "ROLES",
    "SHAREGPT_ROLES",
    "TOOL_MESSAGE_KEYS",
    "TOOL_RECORD_KEYS",
    "TOOL_ROLES",
    "Conversation",
    "Finding",
    "Format",
    "LoadResult",
    "Message",
    "PreferencePair",
    "RecordFormat",
    "RecordKind",
    "as_conversation",
    "detect_format",
    "file_format",
    "has_tool_call",
    "json_safe",
    "kind_of",
    "load_preferences",
    "load_records",
    "messages_key",
    "nesting_depth",
    "normalize",
    "parse_transcript",
    "read_items",
    "role_order_problem",
    "text_slots",
    "to_preference",
    "to_record",
]
