"""Peak RSS reading 100,000 rows from a CSV file vs 1,000 rows (goal ratio <= 1.3), each in a subprocess.

Each child streams the file through the row renderer and the engine with a send function that does no
I/O (the network is not what is measured), then reports ``ru_maxrss``.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import resource, sys
from types import SimpleNamespace
sys.path.insert(0, {repo!r}); sys.path.insert(0, {bench!r})
from qontak_provider.bulk.engine import BulkSender, MemoryStore
from qontak_provider.bulk.render import RowRenderer
from qontak_provider.bulk.source import iter_rows, ResultWriter
sys.path.insert(0, {repo!r} + "/tests/bulk")
from conftest import seed_template, CHANNEL
r = RowRenderer(seed_template("payment_reminder"), channel_integration_id=CHANNEL,
                body={{"1": "{{{{ row.name }}}}", "2": "{{{{ row.amount }}}}", "3": "x"}})
with ResultWriter({out!r}) as w:
    rep = BulkSender(send=lambda req, before_write: (before_write(), SimpleNamespace(id="b"))[1],
                     prepare=r.prepare, store=MemoryStore(),
                     on_result=lambda res: w.write(res.as_dict()), max_ids=1000).run(iter_rows({path!r}))
print(rep.counts["sent"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(n: int, tmp: Path) -> tuple[int, int]:
    path = tmp / f"r{n}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name", "amount"])
        for i in range(n):
            writer.writerow([f"0812{i:08d}", f"Name {i}", i])
    repo = str(Path(__file__).resolve().parents[1])
    code = CHILD.format(
        repo=repo, bench=str(Path(__file__).parent), path=str(path), out=str(tmp / f"o{n}.csv")
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(1000, Path(tmp))
        large = measure(100_000, Path(tmp))
    print(f"1,000 rows: sent {small[0]}, peak RSS {small[1] / 1024:.1f} MiB")
    print(f"100,000 rows: sent {large[0]}, peak RSS {large[1] / 1024:.1f} MiB")
    print(f"ratio: {large[1] / small[1]:.3f} (goal <= 1.3)")


if __name__ == "__main__":
    main()
