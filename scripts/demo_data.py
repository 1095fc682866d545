"""The demo's sample files: ``.log`` CSV files for the seed's ``t1 (a1 int)``, generated.

Eight files under ``snova/`` hold the integers 1 to 4,000 (500 each), so after the demo ``t1``
must hold exactly 4,000 rows summing to 8,002,000, however many times it runs. They arrive in
the order the demo's story needs:

- ``initial`` (4 files): in the bucket before anything runs; ``cos_to_snova_import`` loads them;
- ``events`` (2 files): uploaded while the ``cos_event_import`` watcher runs;
- ``backlog`` (1 file): lands before the SCF function has its triggers; the timer's sweep
  loads it;
- ``live`` (1 file): uploaded once the COS trigger is bound; SCF loads it at once.

Two decoys show the seed's trigger filter (prefix ``snova/``, suffix ``.log``) at work: nothing
loads them.
"""

from __future__ import annotations

from dataclasses import dataclass

ROWS_PER_FILE = 500


@dataclass(frozen=True)
class SampleFile:
    key: str
    first: int
    rows: int = ROWS_PER_FILE

    @property
    def data(self) -> bytes:
        """One integer per line: ``first`` .. ``first + rows - 1``."""
        return "".join(f"{n}\n" for n in range(self.first, self.first + self.rows)).encode()

    @property
    def total(self) -> int:
        return sum(range(self.first, self.first + self.rows))


def _batches() -> dict[str, list[SampleFile]]:
    layout = {
        "initial": [f"snova/2024-06-01/app-{n:02d}.log" for n in range(1, 5)],
        "events": [f"snova/2024-06-02/app-{n:02d}.log" for n in range(1, 3)],
        "backlog": ["snova/2024-06-03/app-01.log"],
        "live": ["snova/2024-06-03/app-02.log"],
    }
    batches, first = {}, 1
    for name, keys in layout.items():
        batches[name] = []
        for key in keys:
            batches[name].append(SampleFile(key, first))
            first += ROWS_PER_FILE
    return batches


BATCHES = _batches()
ALL_FILES = [f for files in BATCHES.values() for f in files]
EXPECTED_ROWS = sum(f.rows for f in ALL_FILES)
EXPECTED_SUM = sum(f.total for f in ALL_FILES)
DECOYS = {
    "snova/README.txt": b"Not a .log file: the COS trigger's suffix filter skips it.\n",
    "archive/2024-05-31/app-01.log": b"1\n2\n3\n",  # outside the snova/ prefix
}
