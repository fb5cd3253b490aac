"""Child processes of the demo: started in order, watched, stopped together.

Each part runs as its own `linewatch …` process (as it would in production), in one process
group per child so that Ctrl-C reaches the demo first and the demo stops them in reverse order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class DemoError(RuntimeError):
    """A part of the demo failed to start; the message says which and where its log is."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Supervisor:
    workdir: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], *, env: dict[str, str] | None = None) -> Child:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            list(args),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})},
            cwd=self.workdir,
            start_new_session=True,  # Ctrl-C goes to the demo, which stops children in order
        )
        handle.close()
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def linewatch(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        return self.start(name, [sys.executable, "-m", "linewatch", *args], env=env)

    def run(self, *args: str) -> str:
        """A short `linewatch` command; its stdout, or DemoError with its one-line error."""
        result = subprocess.run(
            [sys.executable, "-m", "linewatch", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=120,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DemoError(f"linewatch {args[0]} failed: {last}")
        return result.stdout.strip()

    def check_alive(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise DemoError(f"{child.name} exited with code {code}; see {child.log}")

    def wait_http(self, child: Child, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(URLError, OSError), urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise DemoError(
            f"{child.name} did not answer {url} within {timeout:.0f} s; see {child.log}"
        )

    def wait_port(self, child: Child, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            time.sleep(0.2)
        raise DemoError(f"{child.name} did not listen on port {port} within {timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to every child (newest first), SIGKILL to those still running after `grace`."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait(timeout=5)
