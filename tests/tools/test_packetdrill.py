"""tcpkit playing packetdrill scripts: the upstream suite (read-only data beside the
repository) judges the engine; the list of scripts that pass only grows; the player's
own rules (timing tolerance, lenient segments, errno, %{ }% blocks) are pinned on small
scripts; and the command line reports clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tcpkit.tools.packetdrill import suite
from tcpkit.tools.packetdrill.player import FAIL, PASS, UNSUPPORTED, Player, Result
from tcpkit.tools.packetdrill.script import parse
from tests.conftest import require_packetdrill_suite

PASSING = Path(__file__).with_name("packetdrill_passing.txt")


def listed() -> list[str]:
    return [line for line in PASSING.read_text().splitlines() if line.strip()]


def test_scripts_that_passed_still_pass() -> None:
    """The checked-in list only grows: a script on it that stops passing is a
    regression of the engine."""
    root = require_packetdrill_suite()
    failures = []
    for name in listed():
        result = suite.play_file(root / name)
        if result.status != PASS:
            failures.append(f"{name}: {result}")
    assert not failures, "\n".join(failures)


def test_the_whole_suite_plays_and_new_passes_are_listed() -> None:
    root = require_packetdrill_suite()
    results = suite.run(suite.find_scripts([root]), root)
    assert len(results) > 150
    assert {r.status for r in results.values()} <= {PASS, FAIL, UNSUPPORTED}
    linux = suite.read_linux_results(root)
    # Targets are the scripts Linux passes here; one Linux fails is no target.
    passing = {name for name, r in results.items() if r.status == PASS
               and linux.get(name, ("?", ""))[0] != FAIL}
    new = sorted(passing - set(listed()))
    assert not new, f"add these to {PASSING.name}: {new}"
    print("\n" + suite.linux_table(results, linux))


def play(text: str) -> Result:
    return Player(parse(text)).play()


HANDSHAKE = """
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 10>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
"""


def test_a_correct_script_passes() -> None:
    result = play(HANDSHAKE + """
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 read(4, ..., 1000) = 1000
   +0 close(4) = 0
   +0 > F. 1:1(0) ack 1001
""")
    assert result == Result(PASS), result


def test_a_wrong_ack_fails_with_the_line_and_both_packets() -> None:
    result = play(HANDSHAKE + """
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1000
""")
    assert result.status == FAIL and result.line == 12
    assert "expected . 1:1(0) ack 1000, got . 1:1(0) ack 1001" in result.message


def test_a_packet_outside_the_tolerance_fails() -> None:
    """Once data has been quick-ACKed, the ACK of a lone FIN waits for the delayed-ACK
    timer (~40 ms): expecting it at once fails, at +.04 passes (4 ms tolerance)."""
    data = HANDSHAKE + """
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 read(4, ..., 1000) = 1000
   +0 < F. 1001:1001(0) ack 1 win 257
"""
    early = play(data + "+0 > . 1:1(0) ack 1002\n")
    assert early.status == FAIL and "at 0.100000, nothing was sent" in early.message
    assert play(data + "+.04 > . 1:1(0) ack 1002\n").status == PASS


def test_an_expected_gso_packet_may_leave_as_segments_unless_strict() -> None:
    body = HANDSHAKE + """
   +0 write(4, ..., 3000) = 3000
   +0 > P. 1:3001(3000) ack 1
"""
    assert play(body).status == PASS
    strict = play("--strict_segments\n" + body)
    assert strict.status == FAIL and "got . 1:1001(1000)" in strict.message


def test_errno_and_nonblocking_calls() -> None:
    result = play(HANDSHAKE + """
   +0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)
   +0 read(4, ..., 10) = 0
""")
    assert result.status == FAIL and result.line == 13
    assert "read() = -1 EAGAIN, expected 0" in result.message


def test_a_blocking_call_returns_when_the_script_says() -> None:
    assert play(HANDSHAKE + """
   +0...0.100 read(4, ..., 1000) = 1000
  +.1 < P. 1:1001(1000) ack 1 win 257
""").status == PASS
    late = play(HANDSHAKE + """
   +0...0.050 read(4, ..., 1000) = 1000
  +.1 < P. 1:1001(1000) ack 1 win 257
""")
    assert late.status == FAIL and "returned at" in late.message


def test_tcp_info_blocks() -> None:
    assert play(HANDSHAKE + "+0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%\n").status \
        == PASS
    wrong = play(HANDSHAKE + "+0 %{ assert tcpi_snd_cwnd == 11, tcpi_snd_cwnd }%\n")
    assert wrong.status == FAIL and "assertion failed: 10" in wrong.message


def test_what_tcpkit_lacks_is_unsupported_by_name() -> None:
    assert play(HANDSHAKE + "+0 epoll_create(1) = 5\n") == \
        Result(UNSUPPORTED, 10, "system call epoll_create()")
    assert play("--ip_version=ipv6\n" + HANDSHAKE).message == "option --ip_version"


def tcpkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcpkit", "packetdrill", *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_reports_per_script_per_folder_and_beside_linux(tmp_path: Path) -> None:
    root = require_packetdrill_suite()
    report = tmp_path / "report.tsv"
    done = tcpkit(str(root / "gtests/net/tcp/close"), "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS        gtests/net/tcp/close/close-on-syn-sent.pkt" in done.stdout
    assert "gtests/net/tcp/close" in done.stdout and "beside Linux" in done.stdout
    lines = report.read_text().splitlines()
    assert lines[0] == "path\ttcpkit\tline\tdetail" and len(lines) == 4


@pytest.mark.parametrize("args, message", [
    ((), "name scripts or directories, or --suite DIR"),
    (("/nonexistent.pkt",), "no such file or directory: /nonexistent.pkt"),
])
def test_cli_bad_arguments(args: tuple[str, ...], message: str) -> None:
    done = tcpkit(*args)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_tolerance_grows_with_the_gap() -> None:
    """packetdrill's tolerance is the larger of --tolerance_usecs (4 ms) and
    --tolerance_percent (12.5%) of the time since the previous event: a loss probe
    316 ms after the write passes for "+.3" (37.5 ms), not with the share at 0."""
    body = HANDSHAKE + """
   +0 write(4, ..., 1000) = 1000
   +0 > P. 1:1001(1000) ack 1
  +.3 > P. 1:1001(1000) ack 1
"""
    assert play(body).status == PASS
    strict = play("--tolerance_percent=0\n" + body)
    assert strict.status == FAIL and "at 0.400000, nothing was sent" in strict.message


@pytest.mark.parametrize("line", [
    "+0 fcntl(4, F_SETFL, error) = 0",
    "+0 shutdown(4) = 0",
    "+0 < . 1:1(0) ack 1 win 70000",
    "+0 < S 0:0(0) win 100 <wscale 300>",
])
def test_scripts_the_player_cannot_handle_are_unsupported_not_crashes(line: str) -> None:
    result = play(HANDSHAKE + line + "\n")
    assert result.status == UNSUPPORTED and result.line == 10, result


@pytest.mark.parametrize("option", ["--tolerance_usecs=1.5", "--local_ip=10.1",
                                    "--remote_ip=fd::1"])
def test_bad_options_are_unsupported(option: str) -> None:
    assert play(option + "\n" + HANDSHAKE).status == UNSUPPORTED


def test_sysctls_tcpkit_does_not_model_are_reported() -> None:
    root = require_packetdrill_suite()
    result = suite.play_file(root / "gtests/net/tcp/close/close-on-syn-sent.pkt")
    assert result.status == PASS
    assert "net.ipv4.tcp_congestion_control" in result.ignored  # cubic: reno only


def test_sendmsg_writes_its_iovecs_as_one() -> None:
    result = play(HANDSHAKE + """
   +0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 300}, {..., 700}],
                  msg_flags=0}, 0) = 1000
   +0 > P. 1:1001(1000) ack 1
""")
    assert result.status == PASS, result
    control = play(HANDSHAKE + """
   +0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0,
                  msg_control=[]}, 0) = 10
""")
    assert control.status == UNSUPPORTED and "msg_control" in control.message


TS_HANDSHAKE = """
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 20000 <mss 1000,sackOK,TS val 100 ecr 0>
   +0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 100>
  +.1 < . 1:1(0) ack 1 win 20000 <nop,nop,TS val 200 ecr 100>
   +0 accept(3, ..., ...) = 4
"""


@pytest.mark.parametrize("tsval, status", [(1200, PASS), (1196, PASS), (1190, FAIL)])
def test_ts_vals_are_checked_with_a_tick(tsval: int, status: str) -> None:
    """With --tcp_ts_tick_usecs, an outbound TS val, moved into script time by the first
    one, must be within the tolerance (4 ms = 4 ticks): the FIN 1.1 s after the SYN-ACK
    carries TS val 100 + 1100."""
    body = TS_HANDSHAKE + f"""
   +1 close(4) = 0
   +0 > F. 1:1(0) ack 1 <nop,nop,TS val {tsval} ecr 200>
"""
    result = play("--tcp_ts_tick_usecs=1000\n" + body)
    assert result.status == status, result
    if status == FAIL:
        assert "bad outbound TCP timestamp value" in result.message
    assert play(body).status == PASS  # without a tick, TS vals are not checked


def test_an_inbound_ts_ecr_must_name_an_outbound_ts_val() -> None:
    """packetdrill maps an inbound TS ecr to the actual TS val sent where the script
    wrote that value; an ecr the script never sent cannot be mapped (unless
    --tcp_ts_ecr_scaled interpolates it)."""
    bad = TS_HANDSHAKE.replace("TS val 200 ecr 100", "TS val 200 ecr 150")
    result = play(bad)
    assert result.status == FAIL and "unable to infer live TS ecr" in result.message
    assert play("--tcp_ts_ecr_scaled\n" + bad).status == PASS


def test_a_socket_option_tcpkit_lacks_is_unsupported_not_a_failure() -> None:
    result = play(HANDSHAKE + "+0 setsockopt(4, SOL_TCP, TCP_FASTOPEN, [1], 4) = 0\n")
    assert result == Result(UNSUPPORTED, 10, "socket option TCP_FASTOPEN"), result


@pytest.mark.parametrize("check, status", [
    ('`nstat | grep TcpExtBeyondWindow | grep -q " 1 "`', PASS),
    ("`nstat | grep TcpExtBeyondWindow > /dev/null`", PASS),
    ('`nstat | grep TcpExtBeyondWindow | grep -q " 2 "`', FAIL),
    ("`nstat | grep TcpExtTCPHPHits`", UNSUPPORTED),
])
def test_nstat_greps_read_the_hosts_counters(check: str, status: str) -> None:
    """``nstat`` shows what moved since it last ran: a segment reaching beyond the
    window while data waits unread is dropped and counted (Linux 6.18
    LINUX_MIB_BEYOND_WINDOW)."""
    result = play(HANDSHAKE + f"""
   +0 `nstat -n`
   +0 < P. 1:1001(1000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 < P. 30001:90001(60000) ack 1 win 257
   +0 > . 1:1(0) ack 1001
   +0 {check}
""")
    assert result.status == status, result
    if status == FAIL:
        assert "TcpExtBeyondWindow moved by 1" in result.message


def test_sendto_and_recvfrom_on_a_connected_socket_are_send_and_recv() -> None:
    result = play(HANDSHAKE + """
   +0 sendto(4, ..., 100, 0, ..., ...) = 100
   +0 > P. 1:101(100) ack 1
   +0 < P. 1:11(10) ack 101 win 257
   +0 recvfrom(4, ..., 100, 0, ..., ...) = 10
""")
    assert result.status == PASS, result


def test_a_blocked_call_tcpkit_cannot_make_explains_the_packets_that_follow() -> None:
    """sendmsg() with ancillary data would send the data: the player cannot pass it,
    so the script is UNSUPPORTED at that call, not a FAIL at the packet never sent."""
    result = play(HANDSHAKE + """
 +.05...0.060 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1000}],
                          msg_control=[{cmsg_level=SOL_SOCKET, cmsg_type=1,
                                        cmsg_data=...}], msg_flags=0}, 0) = 1000
   +0 > P. 1:1001(1000) ack 1
""")
    assert result == Result(UNSUPPORTED, 11, "sendmsg() ancillary data (msg_control)"), result


def test_poll_waits_for_what_it_asks_and_checks_revents() -> None:
    body = HANDSHAKE + """
   +0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0...0.100 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 1000) = 1
  +.1 < P. 1:11(10) ack 1 win 257
"""
    assert play(body).status == PASS
    assert play(HANDSHAKE + "+0 poll([{fd=4, events=POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
                ).status == PASS
    wrong = play(HANDSHAKE + "+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1\n")
    assert wrong.status == FAIL and "revents 0x4, expected 0x1" in wrong.message
    timeout = play(HANDSHAKE + "+0...0.050 poll([{fd=4, events=POLLIN}], 1, 50) = 0\n")
    assert timeout.status == PASS, timeout


@pytest.mark.parametrize("tc, status", [
    # Refused by the device: the write succeeds, nothing reaches the wire.
    ("tc qdisc delete dev tun0 root 2>/dev/null ; tc qdisc add dev tun0 root pfifo limit 0",
     FAIL),
    # Removed again, or one with room: the data goes out.
    ("tc qdisc add dev tun0 root pfifo limit 0 && tc qdisc del dev tun0 root", PASS),
    ("tc qdisc replace dev tun0 root pfifo limit 1000", PASS),
    ("tc qdisc replace dev tun0 root fq", UNSUPPORTED),
    ("tc qdisc add dev eth7 root pfifo limit 0", UNSUPPORTED),
])
def test_a_pfifo_qdisc_on_tun0_is_the_hosts(tc: str, status: str) -> None:
    """packetdrill's user-timeout-probe installs a qdisc that drops everything; other
    qdiscs are not modelled and say so."""
    result = play(HANDSHAKE + f"""
   +0 `{tc}`
   +0 write(4, ..., 10) = 10
   +0 > P. 1:11(10) ack 1
""")
    assert result.status == status, result
    if status == FAIL:
        assert result.line == 13 and "nothing was sent" in result.message, result
    if status == UNSUPPORTED:
        assert "tcpkit models a pfifo qdisc on tun0 only" in result.message, result


def test_null_buffers_fail_with_efault_and_lose_nothing() -> None:
    """syscall-invalid-buf-ptr's calls: tcpkit's API refuses None as Python's does, before
    the connection is touched; the data read and written afterwards is all there."""
    result = play(HANDSHAKE + """
   +0 < P. 1:11(10) ack 1 win 257
   +0 > . 1:1(0) ack 11
   +0 read(4, NULL, 10) = -1 EFAULT (Bad address)
   +0 recvfrom(4, NULL, 10, 0, ..., ...) = -1 EFAULT (Bad address)
   +0 read(4, ..., 100) = 10
   +0 write(4, NULL, 1000) = -1 EFAULT (Bad address)
   +0 send(4, NULL, 1000, 0) = -1 EFAULT (Bad address)
   +0 write(4, ..., 5) = 5
   +0 > P. 1:6(5) ack 11
""")
    assert result.status == PASS, result
