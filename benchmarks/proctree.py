"""Memory of a process and its descendants, read from /proc (Linux) while it runs.

`getrusage(RUSAGE_CHILDREN)` gives one number for a whole tree, the largest of its
processes, not their sum; a Dask job's driver and workers each hold part of the data.
So a thread walks the tree every `interval` seconds and keeps, per process, the kernel's
own peak (VmHWM, exact up to the last sample before the process ends) and, for the tree,
the largest sum of current resident sizes (VmRSS) seen at one sample.

Used by benchmarks/bench_snapshot.py (imported as a sibling: a script's folder is on its path).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")


def status_mib(pid: int, key: str) -> float | None:
    """A `/proc/PID/status` memory line (`VmRSS`, `VmHWM`) in MiB; None once it is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024  # the kernel writes kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def descendants(root: int) -> list[int]:
    """`root` and every process below it, by the parent ids in `/proc/*/stat`."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_text()
        except OSError:
            continue
        # The name, in parentheses, may hold spaces: the fields after its last ")" are fixed.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def command_of(pid: int) -> str:
    """The process's command line, shortened, to tell a Dask worker from its driver."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:160]


@dataclass
class TreeMemory:
    """Samples the tree under `root` from a thread while the `with` block runs."""

    root: int
    interval: float = 0.2
    peak_sum_mib: float = 0.0
    """The largest sum of VmRSS over the tree at one sample."""
    hwm_mib: dict[int, float] = field(default_factory=dict)
    """Each process's VmHWM at the last sample that saw it."""
    commands: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        """Read the tree once."""
        total = 0.0
        for pid in descendants(self.root):
            rss, hwm = status_mib(pid, "VmRSS"), status_mib(pid, "VmHWM")
            if rss is None or hwm is None:
                continue
            total += rss
            self.hwm_mib[pid] = hwm
            if pid not in self.commands:
                self.commands[pid] = command_of(pid)
        self.peak_sum_mib = max(self.peak_sum_mib, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeMemory:
        self.sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peaks(self, needle: str) -> list[float]:
        """The VmHWM of the processes (other than the root) whose command line holds `needle`."""
        return sorted(
            round(m, 1)
            for pid, m in self.hwm_mib.items()
            if pid != self.root and needle in self.commands.get(pid, "")
        )
