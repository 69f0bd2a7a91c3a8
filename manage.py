#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import signal
import sys


def stops_as_ctrl_c() -> None:
    """SIGTERM and SIGHUP (a job killed, a closed terminal or ssh session, torchrun stopping its
    ranks) stop a command as Ctrl-C does, so that its clean-up runs: an import stopped half-way
    leaves no panel files without their rows, say. A signal set to be ignored (nohup) stays so."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for stop in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(stop) is signal.SIG_DFL:
            signal.signal(stop, interrupt)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    stops_as_ctrl_c()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
