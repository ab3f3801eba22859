"""What hostile input looks like: the values a fuzzer throws at every argument and every row value.

None, booleans, numbers (floats included, integral or not, NaN and infinities), bytes, lone surrogates (a
truncated emoji read from JSON: ``json.loads('"\\ud83d"')``), control characters, 10,000-character text,
right-to-left text, emoji sequences, and containers of all of these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SEEDS: dict[str, dict[str, Any]] = json.loads(
    (REPO / "tests" / "fixtures" / "seed_payloads.json").read_text()
)

NASTY_TEXT = [
    "",
    " ",
    "\ud83d",  # a lone surrogate: half an emoji
    "Budi \udfff",
    "\x00",
    "bell\x07",
    "a\tb",
    "line\nbreak",
    "x" * 10_000,
    "\u202eRTL override",
    "مرحبا بك",  # right-to-left text is a fine name
    "😀",
    "👨\u200d👩\u200d👧",  # an emoji sequence with zero-width joiners
    "0812-3456-7890",
    "6281234567890",
    "6281234567890.0",
    "{{ 7 * 7 }}",
    "{'broadcast_id': 1}",
    "[1, 2]",
    "https://example.com",
    "https://example.com/files/",
    "https://cdn.qontak.com/uploads/direct/files/x/invoice.pdf",
    "id",
    "en_US",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([6281234567890.0, 81234567890.0, 6.2e12, 1e300, -0.0]),
    st.binary(max_size=8),
    st.text(max_size=16),
    st.sampled_from(NASTY_TEXT),
)

junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.text(max_size=6), st.sampled_from(["1", "2", "0", "key", "url"])), inner, max_size=3
        ),
    ),
    max_leaves=6,
)


#: Either a plausible value for the argument or junk, so that fuzzing also reaches deeper checks.
def plausible_or_junk(*good: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(list(good)), junk)
