"""What a scenario is: a small story in plain blocking socket code, told by actors on
two hosts (``client`` 192.0.2.1 and ``server`` 192.0.2.2, one cable; or, for a routed
story, ``server`` 198.51.100.2 behind a router), with the article it comes from, the
knobs a user may turn, and the words that explain the outcome.

The story only uses :class:`Stage`, so the same function runs on tcpkit's simulated
network and on the kernel (two network namespaces): that is how the lab verifies itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tcpkit.lab.calls import CallLog, LoggedSockets, show_error
from tcpkit.lab.worlds import A, World

if TYPE_CHECKING:
    from tcpkit.lab.run import Outcome

SIDES = {"client": "a", "server": "b"}
NETWORK = "network"  # the actor name under which faults are logged
CLIENT = A
PORT = 5555


@dataclass(frozen=True, slots=True)
class Knob:
    """A setting of a scenario, ``--set name=value`` on the command line."""

    name: str
    default: int
    help: str
    low: int | None = None  # the smallest value the story makes sense with
    high: int | None = None  # the largest

    def check(self, value: int) -> int:
        """``value`` if the story can be played with it, else ValueError saying why."""
        if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            low = "" if self.low is None else self.low
            high = "" if self.high is None else self.high
            raise ValueError(f"knob {self.name} must be in {low}..{high}, not {value}")
        return value


@dataclass(frozen=True)
class Scenario:
    """One failure story (see the module docstring)."""

    name: str
    title: str
    seed: str  # the article in shared/seeds it comes from ("004")
    description: str
    play: Callable[[Stage], None]
    explain: Callable[[Outcome], str]
    knobs: tuple[Knob, ...] = ()
    timeout: float = 30.0  # virtual (or, on the kernel, real) seconds the story may take
    # Why the kernel cannot play it, or None when it can (then verify compares).
    kernel_cannot: str | None = None
    # Why it cannot be told with tcpkit and the kernel on a TUN device (lab.tun_world),
    # beyond what that world says itself (NotInThisWorld), or None.
    tun_cannot: str | None = None
    # A difference from the kernel that is understood and accepted, with the reason;
    # verify reports it without failing (and fails if the difference has gone).
    known_difference: str | None = None
    routed: bool = False  # a router between client and server (Stage.router_mtu)

    def settings(self, overrides: dict[str, int] | None = None) -> dict[str, int]:
        """The knobs' values: defaults, then ``overrides`` (unknown names are errors)."""
        knobs = {knob.name: knob for knob in self.knobs}
        values = {knob.name: knob.default for knob in self.knobs}
        for name, value in (overrides or {}).items():
            if name not in values:
                known = ", ".join(values) or "none"
                raise ValueError(f"scenario {self.name} has no knob {name!r} (knobs: {known})")
            values[name] = knobs[name].check(value)
        return values


@dataclass
class Stage:
    """What a story's code sees: the world it plays in, the call log and the knobs."""

    world: World
    log: CallLog
    knobs: dict[str, int]
    notes: list[str] = field(default_factory=list)
    _kept: set[int] = field(default_factory=set)

    def actor(self, side: str, body: Callable[[LoggedSockets], None]) -> None:
        """Run ``body(sk)`` on ``side`` ("client" or "server"); ``sk`` is the socket
        module whose calls are logged. Written like a program: an error it does not
        catch ends it (the call log shows which), and its sockets are closed when it
        ends, as a process's are at exit, unless :meth:`keep` holds them."""
        sk = LoggedSockets(self.world.sk, self.log, side)

        def run() -> None:
            try:
                body(sk)
            except OSError as exc:
                self.notes.append(f"{side} ended on an error it did not handle: "
                                  f"{show_error(exc)}")
            finally:
                for sock in sk.opened:
                    if id(sock.raw) not in self._kept:
                        sock.raw.close()
        self.world.spawn(SIDES[side], run)

    @property
    def server(self) -> str:
        """The server's address, to connect to."""
        return self.world.server

    def router_mtu(self, mtu: int) -> None:
        """The router's link towards the server carries datagrams of ``mtu`` bytes at
        most (routed scenarios only)."""
        self.world.set_router_mtu(mtu)

    def sleep(self, seconds: float) -> None:
        self.world.sleep(seconds)

    def now(self) -> float:
        return self.log.now()

    def keep(self, sock: Any) -> None:
        """Hold ``sock`` open until the story is over (a program that never closes)."""
        raw = getattr(sock, "raw", sock)
        self._kept.add(id(raw))
        self.world.keep(raw, SIDES[getattr(sock, "actor", "client")])

    def unplug(self) -> None:
        """The cable to the server is cut: nothing passes either way until replug."""
        self._event("the cable is cut", self.world.unplug)

    def replug(self) -> None:
        self._event("the cable is back", self.world.replug)

    def crash(self, side: str) -> None:
        """``side``'s host loses power: its connections vanish without a segment and it
        answers nothing (sockets its program kept with :meth:`keep` go with it)."""
        self._event(f"the {side}'s host crashes", lambda: self.world.crash(SIDES[side]))

    def reboot(self, side: str) -> None:
        """``side``'s host crashes and comes back at once, knowing no connection."""
        self._event(f"the {side}'s host reboots", lambda: self.world.reboot(SIDES[side]))

    def ss(self, side: str, state: str) -> int:
        """How many sockets of ``side``'s host are in ``state`` (ss's names:
        fin-wait-1, close-wait, time-wait, ...), logged as a call of that side, as if
        it had run ``ss -Htan state STATE | wc -l``."""
        result: int = self.log.record(side, f"ss state {state} | wc -l",
                                      lambda: self.world.count_sockets(SIDES[side], state))
        return result

    def route(self, side: str, network: str, via: str) -> None:
        """``ip route add NETWORK via VIA`` on ``side``'s host (before its actors)."""
        self.world.route(SIDES[side], network, via)

    def lose(self, length: int, times: int = 1) -> None:
        """The network will lose the first ``times`` datagrams of ``length`` bytes (IP
        header included) that the client sends; later ones get through."""
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times}")
        self.world.lose(length, times)

    def inject(self, side: str, what: str, packets: list[bytes]) -> None:
        """``side``'s host puts hand-made IPv4 datagrams on the cable (an attack tool),
        logged as a network event described by ``what``."""
        self._event(what, lambda: self.world.inject(SIDES[side], packets))

    def _event(self, what: str, do: Callable[[], None]) -> None:
        """Something done to the network, logged as a call of ``network``."""
        self.log.record(NETWORK, what, do)


    def sysctl(self, side: str, name: str, value: object) -> None:
        """Set a sysctl on ``side``'s host (before its actors need it)."""
        self.world.sysctl(SIDES[side], name, value)

    def nstat(self, side: str, name: str) -> int:
        """Read a counter of ``side``'s host (``TcpCurrEstab``), logged as a call of
        that side's program, as if it had run ``nstat -az <name>``."""
        result: int = self.log.record(side, f"nstat {name}",
                                      lambda: self.world.counter(SIDES[side], name))
        return result


CATALOGUE: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    if scenario.name in CATALOGUE:
        raise ValueError(f"two scenarios named {scenario.name}")
    CATALOGUE[scenario.name] = scenario
    return scenario
