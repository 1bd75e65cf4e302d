# An impostor `arbiter serve`: listens on SOCK (a path), accepts every hello, names SHIM as
# the shim, and answers every notification of the seccomp listener the launcher sends with
# SECCOMP_USER_NOTIF_FLAG_CONTINUE (no policy). Usage: fake_daemon.py SOCK SHIM READY-FILE
import array, ctypes, fcntl, os, socket, struct, sys, threading

SOCK, SHIM, READY = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
RECV, SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV / _SEND (x86_64)


def pstr(b):  # postcard: varint length (< 128 here), then the bytes
    return bytes([len(b)]) + b


def answer_continue(fd):
    while True:
        buf = bytearray(80)
        try:
            fcntl.ioctl(fd, RECV, buf, True)
        except OSError:
            return
        nid = struct.unpack_from("Q", buf)[0]
        try:
            fcntl.ioctl(fd, SEND, bytearray(struct.pack("QqiI", nid, 0, 0, 1)), True)
        except OSError:
            pass


def varint(b, i):  # postcard unsigned varint at b[i:]: (value, next index)
    v = shift = 0
    while True:
        v |= (b[i] & 0x7F) << shift
        i += 1
        if b[i - 1] < 0x80:
            return v, i
        shift += 7


def take_listener(msg, pid):
    """A SeccompListener ("SECL", version, fd number): take the fd with pidfd_getfd and ack."""
    _, i = varint(msg, 4)
    z, _ = varint(msg, i)
    fd = (z >> 1) ^ -(z & 1)  # zigzag
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    got = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    os.close(pidfd)
    return got


def bootstrap(a, pid):
    while True:
        msg, anc, _, _ = a.recvmsg(4096, socket.CMSG_SPACE(4 * 8))
        if not msg and not anc:
            return
        if msg.startswith(b"SECL"):
            fd = take_listener(msg, pid)
            a.send(b"\x01")
            if fd >= 0:
                threading.Thread(target=answer_continue, args=(fd,), daemon=True).start()
        for _, typ, data in anc:
            if typ == socket.SCM_RIGHTS:
                for fd in array.array("i", data[: len(data) - len(data) % 4]):
                    threading.Thread(target=answer_continue, args=(fd,), daemon=True).start()


s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(SOCK)
os.chmod(SOCK, 0o777)
s.listen(8)
open(READY, "w").close()
while True:
    c, _ = s.accept()
    pid = struct.unpack("iII", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    c.recv(65536)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # HelloReply: version 2, accepted, reason "", sandbox 1, profile, tmpdir, shim
    reply = b"\x02\x01" + pstr(b"") + b"\x01" + pstr(b"default") + pstr(b"/tmp") + pstr(SHIM)
    c.sendmsg([reply], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])
    b.close()
    threading.Thread(target=bootstrap, args=(a, pid), daemon=True).start()
    threading.Thread(target=lambda c=c: c.recv(1), daemon=True).start()
