"""The control client keeps one connection per thread open: tests poll the control API many times a second."""

from __future__ import annotations

import threading
import time

from amlops.emulator import Emulator
from amlops.emulator.control_client import EmulatorControl


def test_a_connection_the_emulator_closed_is_replaced_before_the_next_call(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.base_url, str(emulator.ca_file))
    control.mark()
    kept = control._local.connection
    # The emulator closes this connection after answering (the request asked it to), without saying so in the
    # answer: the client still holds it as open, as it would after a server's idle timeout.
    kept.request("GET", "/_emulator/counters", headers={"Connection": "close"})
    kept.getresponse().read()
    time.sleep(0.2)  # the close reaches this side
    assert control.mark() >= 0, "the next call goes through on a new connection"
    assert control._local.connection is not kept


def test_threads_calling_at_once_each_get_their_own_answers(emulator: Emulator) -> None:
    control = EmulatorControl(emulator.base_url, str(emulator.ca_file))
    marks: list[int] = []
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            marks.extend(control.mark() for _ in range(50))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(marks) == 200
