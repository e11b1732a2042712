"""What the browser tests share: where the binaries are, the local secrets, and how a server
is started and stopped."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CHROMIUM = "/usr/bin/chromium"
# Headless, and nothing that reaches out: this machine's network is closed, and Chromium's
# background requests would otherwise fail at every start.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The local secrets billing-local is started with (README "Configuration").
JWT_SECRET = "browser-jwt-secret"
LINK_SECRET = "browser-link-secret"


@dataclass
class Server:
    """A server started for the tests: its base URL and every line its banner printed."""

    base: str
    banner: list[str]
    process: subprocess.Popen

    def line(self, prefix: str) -> str:
        """The rest of the banner line that starts with `prefix`."""
        for line in self.banner:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"no banner line starts with {prefix!r}: {self.banner}")


def start(command: list[str], ready: str, env: dict[str, str], log: Path) -> Server:
    """Starts `command`, waits until its output has a line `<ready> http://127.0.0.1:PORT`, and
    keeps reading the banner until the output goes quiet."""
    if not Path(command[0]).is_file():
        pytest.fail(f"{command[0]} is missing: run `cargo build -p billing-local --example stripe_page` first")
    out = open(log, "w+")
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    pattern = re.compile(rf"^{re.escape(ready)} (http://127\.0\.0\.1:\d+)$", re.M)
    while time.monotonic() < deadline:
        text = log.read_text()
        found = pattern.search(text)
        if found:
            time.sleep(0.2)  # the rest of the banner is printed in the same write
            return Server(found.group(1), log.read_text().splitlines(), process)
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited:\n{log.read_text()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
