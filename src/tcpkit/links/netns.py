"""A network namespace for tcpkit's TUN device: the kernel's side of a real link.

``tcpkit netns up NAME`` makes one (what :meth:`TunNamespace.up` does):

* the namespace NAME (``ip netns add``) with its loopback up;
* a persistent TUN device in it (``ip tuntap add ... mode tun vnet_hdr``), which tcpkit
  opens later from inside the namespace;
* the kernel's address on it (192.0.2.1/24 by default, TEST-NET-1, RFC 5737), so the
  kernel routes the subnet to tcpkit, whose host takes 192.0.2.2.

Programs run on the kernel's side with ``ip netns exec NAME curl http://192.0.2.2/``.
``tcpkit netns down NAME`` deletes the namespace, and the device with it.

Only the calling thread enters a namespace (:func:`entered`, ``setns(2)``): a TUN device
opened there stays in it, so the process itself stays where it was.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000

DEVICE = "tk0"
KERNEL_ADDRESS = "192.0.2.1/24"
TCPKIT_ADDRESS = "192.0.2.2/24"


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


@contextmanager
def entered(name: str | None) -> Iterator[None]:
    """Run the block with this thread in network namespace ``name`` (None: stay)."""
    if name is None:
        yield
        return
    try:
        target = os.open(NETNS_DIR / name, os.O_RDONLY)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"no network namespace {name!r} "
                                f"(create it with 'tcpkit netns up {name}')") from None
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise OSError(errno.EIO, f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass(frozen=True)
class TunNamespace:
    """The namespace NAME with the TUN device ``device`` and the kernel's address."""

    name: str
    device: str = DEVICE
    kernel_address: str = KERNEL_ADDRESS
    mtu: int = 1500

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise ValueError(f"bad namespace name {self.name!r}")
        ipaddress.IPv4Interface(self.kernel_address)  # ValueError if malformed
        if not 68 <= self.mtu <= 65535:
            raise ValueError(f"MTU {self.mtu} is outside 68..65535")

    @property
    def kernel_ip(self) -> str:
        return str(ipaddress.IPv4Interface(self.kernel_address).ip)

    def up(self) -> None:
        """Create it all (FileExistsError if the namespace is there already)."""
        if os.geteuid() != 0:
            raise PermissionError(errno.EPERM, "creating a network namespace needs root")
        if exists(self.name):
            raise FileExistsError(errno.EEXIST, f"network namespace {self.name!r} exists")
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "tuntap", "add", "dev", self.device, "mode", "tun",
                "vnet_hdr")
            _ip("-n", self.name, "addr", "add", self.kernel_address, "dev", self.device)
            _ip("-n", self.name, "link", "set", self.device, "mtu", str(self.mtu), "up")
        except OSError:
            self.down()
            raise

    def down(self) -> None:
        """Delete the namespace and its device (FileNotFoundError if there is none)."""
        if not exists(self.name):
            raise FileNotFoundError(errno.ENOENT, f"no network namespace {self.name!r}")
        _ip("netns", "del", self.name)
