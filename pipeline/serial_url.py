"""Checks a serial port given by a user before anything opens it: a device path or a pyserial URL.

`check_port` catches what is obviously malformed (an unknown URL scheme, a socket URL without a valid host:port,
control characters, an option-looking value) with a one-line PipelineError naming the value; whether the port
exists is left to opening it (session.open_port says so just as clearly). `SerialPort` is the click type.

Network URLs reach this machine only (127.0.0.0/8, ::1, localhost) unless the user allows remote hosts: the
harness streams the test set to whatever answers, and a typo should not send it across the internet.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import click

from pipeline.errors import PipelineError

# pyserial's URL handlers (serial/urlhandler/protocol_*.py) that make sense for a device link.
SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep")
NETWORK_SCHEMES = ("socket", "rfc2217")  # need host:port
HINT = "Use /dev/ttyACM0 (a board), COM3 (Windows), socket://127.0.0.1:PORT (QEMU) or a pty path."


def check_port(value: str, urls: bool = True, remote: bool = False) -> str:
    """Returns `value` if it can be a serial port (or, with `urls`, a pyserial URL; with `remote`, one to another
    host); PipelineError otherwise."""
    def bad(why: str):
        raise PipelineError(f"Invalid serial port {value!r}: {why}.", HINT)

    if not value or not value.strip():
        bad("it is empty")
    if value.startswith("-"):
        bad("it looks like an option")
    if re.search(r"[\x00-\x1f\x7f]", value) or value != value.strip():
        bad("it contains control characters or surrounding spaces")
    if "://" not in value:
        return value
    if not urls:
        bad("a URL is not a serial port here")
    scheme = value.split("://", 1)[0]
    if scheme not in SCHEMES:
        bad(f"unknown URL scheme '{scheme}' (pyserial knows {', '.join(s + '://' for s in SCHEMES)})")
    if scheme in NETWORK_SCHEMES:
        try:
            parts = urlsplit(value)
            host, port = parts.hostname, parts.port
        except ValueError as e:
            bad(f"bad host:port ({e})")
        if not host or port is None or not 0 < port < 65536:
            bad(f"{scheme}:// needs a host and a port in 1..65535, e.g. {scheme}://127.0.0.1:4321")
        if not remote and not _loopback(host):
            raise PipelineError(f"Serial port {value!r} is on another host ({host}); tinykd connects to this "
                                "machine only (127.0.0.1, ::1, localhost) unless told otherwise.",
                                "Use --allow-remote if you mean that host.")
    return value


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only localhost is known to be this machine without asking a resolver
        return host.lower() == "localhost"


class SerialPort(click.ParamType):
    """A click parameter for --port: checked by `check_port` (a PipelineError: one line, exit status 2)."""

    name = "port"

    def __init__(self, urls: bool = True):
        self.urls = urls

    def convert(self, value, param, ctx):  # the host is checked by the command, which knows --allow-remote
        return check_port(str(value), urls=self.urls, remote=True)
