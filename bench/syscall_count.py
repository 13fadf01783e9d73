"""System calls a process makes while a benchmark runs (bench/compare.py --syscalls).

`perf stat -e raw_syscalls:sys_enter -p PID` counts every system call of every thread of the
process; divided by the transactions of the run it says how many calls one transaction costs
a proxy, which is most of its kernel time. Needs perf (Debian `linux-perf`) and root or
kernel.perf_event_paranoid <= 1; without them the count is None and the run goes on.
"""
from __future__ import annotations

import shutil
import signal
import subprocess


class SyscallCounter:
    """Started before a run, stopped after it: `count` is the calls made in between."""

    def __init__(self, pid: int):
        self.count: int | None = None
        self._proc = None
        perf = shutil.which("perf")
        if perf is None:
            return
        self._proc = subprocess.Popen(
            [perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(pid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)

    def stop(self) -> int | None:
        if self._proc is None:
            return None
        self._proc.send_signal(signal.SIGINT)
        try:
            _, err = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            return None
        for line in err.splitlines():  # "<count>,,raw_syscalls:sys_enter,..."
            fields = line.split(",")
            if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter" and fields[0].isdigit():
                self.count = int(fields[0])
        return self.count
