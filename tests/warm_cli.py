"""Warm `amlops` processes for tests that kill the real command and run it again.

Each run of the command pays for its interpreter and imports (2 to 3 s of CPU; the suite starts about a
hundred such runs on 2 cores). Here one process pays once, then forks a child per run: the child runs the
real CLI's `main` with its arguments and environment, in a process of its own that a test may SIGKILL, as
an operator's Ctrl-\\ or an OOM kill would. Forking is safe because the parent holds no thread (checked)
and never runs a flow itself. Exit codes read as `subprocess` reports them: -9 for a SIGKILL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).parents[1]

# The parent: imports what a move needs, then serves orders (one JSON line each) without a thread of its own,
# so every fork copies a single-threaded process. It reports "started PID" per order and "exit PID CODE" per child.
ZYGOTE = r"""
import json, os, select, signal, sys, threading
from app.cli import main
import flows.move_workspace, flows.train_with_retries, azure.ai.ml, azure.mgmt.resource.resources
import prefect.flow_engine, prefect.task_engine, prefect.utilities.visualization, fastapi  # what every run imports
assert threading.active_count() == 1, "fork only from a single-threaded process"
import gc
gc.freeze()  # what the imports made stays out of every child's collections: they would copy each page they touch
# Idle, the parent sleeps in select until an order comes or a child ends (SIGCHLD, through a wake-up pipe): a
# parent that polled would spend a core's 3% per xdist worker for the whole run.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
buffer = b""
def say(text):
    os.write(1, (text + "\n").encode())
while True:
    ready, _, _ = select.select([0, wake_r], [], [], 1.0)
    if wake_r in ready:
        os.read(wake_r, 4096)
    if 0 in ready:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        buffer += chunk
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.close(wake_r); os.close(wake_w)
            null = os.open(os.devnull, os.O_RDWR)
            log = os.open(order["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(null, 0); os.dup2(log if order["stdout"] else null, 1); os.dup2(log, 2)
            os.environ.update(order["env"])
            sys.exit(main(order["args"]))
        say(f"started {pid}")
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        say(f"exit {pid} {os.waitstatus_to_exitcode(status)}")
"""


class Run:
    """One run of the command in its own process: poll it, signal it, wait for its exit code."""

    def __init__(self, pid: int, exits: dict[int, int], changed: threading.Condition) -> None:
        self.pid = pid
        self._exits, self._changed = exits, changed

    @property
    def returncode(self) -> int | None:
        return self._exits.get(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float | None = None) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: self.pid in self._exits, timeout=timeout):
                raise subprocess.TimeoutExpired(f"amlops run {self.pid}", timeout or 0)
        return self._exits[self.pid]


class WarmCli:
    """Starts runs of `amlops ARGS` from one warm parent process."""

    def __init__(self, env: dict[str, str]) -> None:
        self._parent = subprocess.Popen([sys.executable, "-c", ZYGOTE], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._exits: dict[int, int] = {}
        self._started: list[int] = []
        self._runs: list[Run] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        assert self._parent.stdout is not None
        for raw in self._parent.stdout:
            what, pid, *code = raw.decode().split()
            with self._changed:
                if what == "started":
                    self._started.append(int(pid))
                else:
                    self._exits[int(pid)] = int(code[0])
                self._changed.notify_all()
        with self._changed:  # the parent is gone: no run of it will report again
            self._changed.notify_all()

    def start(self, args: list[str], env: dict[str, str], log: Path, timeout: float = 300, stdout: bool = False) -> Run:
        """A new run of the command; its stderr goes to ``log`` (appended), its stdout too with ``stdout``."""
        assert self._parent.stdin is not None
        with self._changed:
            known = len(self._started)
            self._parent.stdin.write(json.dumps({"args": args, "env": env, "log": str(log), "stdout": stdout}).encode() + b"\n")
            self._parent.stdin.flush()
            if not self._changed.wait_for(lambda: len(self._started) > known or self._parent.poll() is not None, timeout=timeout):
                raise TimeoutError("the warm amlops process did not start a run")
            if len(self._started) == known:
                raise RuntimeError(f"the warm amlops process ended (exit {self._parent.returncode}) before starting a run")
            run = Run(self._started[known], self._exits, self._changed)
        self._runs.append(run)
        return run

    def run(self, args: list[str], env: dict[str, str], log: Path, timeout: float = 600) -> int:
        """A run to its end, as `subprocess.run` would (stdout and stderr to ``log``): its exit code. One that
        outlives ``timeout`` is killed."""
        run = self.start(args, env, log, stdout=True)
        try:
            return run.wait(timeout)
        finally:
            run.send_signal(9)

    def close(self) -> None:
        """Kill whatever run is still going (a test that timed out mid-trial), so nothing writes on afterwards."""
        for run in self._runs:
            if run.returncode is None:
                try:
                    os.kill(run.pid, 9)
                except ProcessLookupError:
                    pass
        if self._parent.stdin is not None:
            self._parent.stdin.close()
        try:
            self._parent.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._parent.kill()
            self._parent.wait()
