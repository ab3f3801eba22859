"""Settings of the whole test suite.

Hypothesis is deterministic unless asked otherwise: the ``ci`` profile (the default) derandomizes every
property test, so CI runs the same examples each time and a failure can be reproduced;
``HYPOTHESIS_PROFILE=dev ./scripts/test -k fuzz`` searches at random instead (and keeps the example database
in ``.hypothesis/``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
