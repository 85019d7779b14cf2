"""CPU and memory of processes from /proc, for `make bench`.

A measurement window charges each process the CPU it used inside the window, including
processes that start or end during it: PostgreSQL backends that exit are found in the
postmaster's reaped-children times, and processes the bench itself reaps report their final
times through `wait4`.
"""

from __future__ import annotations

import os
import resource
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A process is known by its pid and start time, so a recycled pid is a new process.
ProcessKey = tuple[int, int]


@dataclass(frozen=True)
class ProcessTimes:
    key: ProcessKey
    parent: int
    ticks: int
    reaped_children_ticks: int


def read_times(pid: int) -> ProcessTimes | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name in parentheses may hold spaces; the fields after it are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return ProcessTimes(
        key=(pid, int(fields[19])),
        parent=int(fields[1]),
        ticks=utime + stime,
        reaped_children_ticks=cutime + cstime,
    )


def command_line(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def all_pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def children_of(parent: int) -> list[int]:
    children = []
    for pid in all_pids():
        times = read_times(pid)
        if times is not None and times.parent == parent:
            children.append(pid)
    return children


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    values = {}
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values["rss" if name == "VmRSS" else "peak"] = int(rest.split()[0]) / 1024
    return values


def machine_ticks() -> dict[str, int]:
    """The machine's CPU time by kind, summed over all cores (/proc/stat, first line)."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    first = (PROC / "stat").read_text().splitlines()[0].split()
    return dict(zip(names, (int(value) for value in first[1 : 1 + len(names)]), strict=True))


def listening_pid(port: int) -> int | None:
    """The process holding a TCP socket listening on `port` (IPv4 or IPv6)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = (PROC / "net" / table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            columns = row.split()
            local, state, inode = columns[1], columns[3], columns[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for pid in all_pids():
        try:
            descriptors = list((PROC / str(pid) / "fd").iterdir())
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in inodes:
                    return pid
            except OSError:
                continue
    return None


@dataclass
class CpuWindow:
    """CPU ticks by label inside one window, and the machine's own ticks by kind."""

    seconds: float
    by_label: dict[str, int]
    machine: dict[str, int]

    def milliseconds(self, label: str) -> float:
        return self.by_label.get(label, 0) * 1000 / CLOCK_TICKS


@dataclass
class CpuMeter:
    """Samples the processes `classify` names (pid -> label) through one window.

    `reaper` is a process whose exited children are charged to `reaped_label` through its
    reaped-children times (the postmaster for PostgreSQL's short-lived backends).
    """

    classify: Callable[[], dict[int, str]]
    reaper: int | None = None
    reaped_label: str = "exited"
    _base: dict[ProcessKey, int] = field(default_factory=dict)
    _last: dict[ProcessKey, int] = field(default_factory=dict)
    _labels: dict[ProcessKey, str] = field(default_factory=dict)
    _parents: dict[ProcessKey, int] = field(default_factory=dict)
    _final: dict[ProcessKey, int] = field(default_factory=dict)
    _reaper_base: int = 0
    _machine_base: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self._base.clear()
        self._last.clear()
        self._labels.clear()
        self._parents.clear()
        self._final.clear()
        self._machine_base = machine_ticks()
        reaper = read_times(self.reaper) if self.reaper else None
        self._reaper_base = reaper.reaped_children_ticks if reaper else 0
        for times, label in self._read_classified():
            self._base[times.key] = times.ticks
            self._remember(times, label)

    def sample(self) -> set[ProcessKey]:
        """Reads every classified process; returns those alive now."""
        alive = set()
        for times, label in self._read_classified():
            self._remember(times, label)
            alive.add(times.key)
        return alive

    def record_exit(self, key: ProcessKey, final_ticks: int, label: str) -> None:
        """A process this program reaped itself, with its lifetime CPU from `wait4`."""
        self._final[key] = final_ticks
        self._labels.setdefault(key, label)

    def stop(self, seconds: float) -> CpuWindow:
        alive = self.sample()
        totals: dict[str, int] = defaultdict(int)
        reaped_seen = 0
        for key, label in self._labels.items():
            final = self._final.get(key, self._last.get(key, 0))
            totals[label] += final - self._base.get(key, 0)
            # A process that exited between samples is charged up to its last sample here;
            # if the reaper waited for it, the rest is in the reaper's reaped-children times.
            exited = key not in alive and key not in self._final
            if exited and self.reaper and self._parents.get(key) == self.reaper:
                reaped_seen += self._last[key]
        if self.reaper:
            reaper = read_times(self.reaper)
            if reaper is not None:
                reaped = reaper.reaped_children_ticks - self._reaper_base
                totals[self.reaped_label] += max(0, reaped - reaped_seen)
        machine_end = machine_ticks()
        machine = {kind: machine_end[kind] - self._machine_base[kind] for kind in machine_end}
        return CpuWindow(seconds=seconds, by_label=dict(totals), machine=machine)

    def _remember(self, times: ProcessTimes, label: str) -> None:
        self._last[times.key] = times.ticks
        self._labels.setdefault(times.key, label)
        self._parents.setdefault(times.key, times.parent)

    def _read_classified(self) -> list[tuple[ProcessTimes, str]]:
        readings = []
        for pid, label in self.classify().items():
            times = read_times(pid)
            if times is not None:
                readings.append((times, label))
        return readings


def rusage_ticks(rusage: resource.struct_rusage) -> int:
    """User + system CPU of a reaped child (from `os.wait4`), in clock ticks."""
    return round((rusage.ru_utime + rusage.ru_stime) * CLOCK_TICKS)
