"""Run `pricewatch` as a user would: a real child process whose output is read as it comes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PRICEWATCH = str(Path(sys.executable).parent / "pricewatch")


class Proc:
    """A `pricewatch ...` child; its merged stdout/stderr is collected by a thread."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict | None = None, base_env=None):
        self.popen = subprocess.Popen(
            [PRICEWATCH, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env={
                **(os.environ if base_env is None else base_env),
                "PYTHONUNBUFFERED": "1",
                **(env or {}),
            },
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60, count: int = 1) -> re.Match:
        """Wait until ``pattern`` has matched ``count`` output lines; return the last match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = [m for line in list(self.lines) if (m := regex.search(line))]
            if len(matches) >= count:
                return matches[count - 1]
            if self.popen.poll() is not None and not self._reader.is_alive():
                raise AssertionError(
                    f"process exited {self.popen.returncode}; output:\n{self.output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} x{count} not seen in {timeout}s; output:\n{self.output[-4000:]}"
                )
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
        try:
            return self.popen.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=5)


def run(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PRICEWATCH, *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
