"""What /proc says about a server process: CPU time (with its children) and peak memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """User and system CPU seconds."""

    user_s: float
    system_s: float

    @property
    def total_s(self) -> float:
        """User plus system seconds."""
        return self.user_s + self.system_s

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.user_s - other.user_s, self.system_s - other.system_s)


def parse_stat(text: str, ticks: int = CLOCK_TICKS) -> tuple[int, CpuTimes]:
    """The parent pid and CPU times in a /proc/<pid>/stat line.

    The command name (field 2) is in parentheses and may hold spaces or parentheses, so
    the fields are counted from the last closing parenthesis.
    """
    rest = text[text.rindex(")") + 2 :].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15), so offsets 1, 11 and 12.
    ppid = int(rest[1])
    return ppid, CpuTimes(int(rest[11]) / ticks, int(rest[12]) / ticks)


def parse_status_kib(text: str, field: str) -> int | None:
    """A `Name:   123 kB` value of /proc/<pid>/status, in KiB; None when absent."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def children_of(pid: int, proc: Path = PROC) -> list[int]:
    """The live descendants of `pid` (uvicorn's workers or reloaders, if any)."""
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        text = _read(entry / "stat")
        if text:
            parents[int(entry.name)] = parse_stat(text)[0]
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def cpu_times(pid: int, proc: Path = PROC) -> CpuTimes:
    """CPU times of `pid` and its live descendants (threads are already in the process)."""
    total = CpuTimes(0.0, 0.0)
    for each in (pid, *children_of(pid, proc)):
        text = _read(proc / str(each) / "stat")
        if text:
            times = parse_stat(text)[1]
            total = CpuTimes(total.user_s + times.user_s, total.system_s + times.system_s)
    return total


def peak_rss_kib(pid: int, proc: Path = PROC) -> int | None:
    """The peak resident set (VmHWM) of `pid` plus its live descendants, in KiB."""
    peaks = [
        parse_status_kib(text, "VmHWM")
        for each in (pid, *children_of(pid, proc))
        if (text := _read(proc / str(each) / "status"))
    ]
    known = [peak for peak in peaks if peak is not None]
    return sum(known) if known else None


# The `st` column of /proc/net/tcp for an established connection.
TCP_ESTABLISHED = "01"


@dataclass(frozen=True, slots=True)
class TcpSocket:
    """One line of /proc/net/tcp or tcp6: the ports of both ends, its state and inode."""

    local_port: int
    remote_port: int
    state: str
    inode: int


def parse_net_tcp(text: str) -> list[TcpSocket]:
    """The sockets of a /proc/net/tcp (or tcp6) table; the header line is skipped.

    Addresses are `HEXIP:HEXPORT`; only the ports matter here, so IPv4 and IPv6 read alike.
    """
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        sockets.append(
            TcpSocket(
                local_port=int(local.rpartition(":")[2], 16),
                remote_port=int(remote.rpartition(":")[2], 16),
                state=state,
                inode=int(inode),
            )
        )
    return sockets


def socket_inode(link: str) -> int | None:
    """The inode of a `socket:[12345]` file-descriptor link; None for anything else."""
    if link.startswith("socket:[") and link.endswith("]"):
        return int(link[len("socket:[") : -1])
    return None


def socket_inodes(pid: int, proc: Path = PROC) -> set[int]:
    """The inodes of the sockets `pid` holds open (empty when it is gone)."""
    found: set[int] = set()
    try:
        entries = list((proc / str(pid) / "fd").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return found
    for entry in entries:
        try:
            inode = socket_inode(os.readlink(entry))
        except OSError:  # closed since the listing
            continue
        if inode is not None:
            found.add(inode)
    return found


def client_ports(sockets: list[TcpSocket], inodes: set[int], server_port: int) -> set[int]:
    """Local ports of the established connections among `inodes` to `server_port`."""
    return {
        s.local_port
        for s in sockets
        if s.inode in inodes and s.remote_port == server_port and s.state == TCP_ESTABLISHED
    }


def database_client_ports(pid: int, database_port: int, proc: Path = PROC) -> set[int]:
    """Local ports of the connections `pid` (and its descendants) hold to `database_port`."""
    inodes: set[int] = set()
    for each in (pid, *children_of(pid, proc)):
        inodes |= socket_inodes(each, proc)
    sockets: list[TcpSocket] = []
    for table in ("tcp", "tcp6"):
        text = _read(proc / str(pid) / "net" / table)
        if text:
            sockets += parse_net_tcp(text)
    return client_ports(sockets, inodes, database_port)


def process_cpu(pid: int, proc: Path = PROC) -> CpuTimes | None:
    """CPU times of one process (no descendants); None when it is gone."""
    text = _read(proc / str(pid) / "stat")
    return None if text is None else parse_stat(text)[1]


def command_name(pid: int, proc: Path = PROC) -> str | None:
    """The command name of `pid` (/proc/<pid>/comm), e.g. `postgres`; None when gone."""
    text = _read(proc / str(pid) / "comm")
    return None if text is None else text.strip()
