"""Loaded by every Python process when tests/offline.sh falls back to a guard: refuse any connection
that is not to this machine (Jupyter kernels still talk to pytest over 127.0.0.1)."""
import ipaddress
import socket

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname


def _local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(address):
    raise OSError(f"network access blocked during tests (tried {address!r})")


def connect(self, address):
    return _connect(self, address) if _local(address) else _refuse(address)


def connect_ex(self, address):
    return _connect_ex(self, address) if _local(address) else _refuse(address)


def sendto(self, data, *args):
    address = args[-1]  # sendto(data, address) or sendto(data, flags, address): UDP needs no connect
    return _sendto(self, data, *args) if _local(address) else _refuse(address)


def gethostbyname(host):
    if host != "localhost" and not _local((host,)):
        _refuse(host)
    return _gethostbyname(host)


def getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost") and not _local((host,)):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.socket.sendto = sendto
socket.getaddrinfo = getaddrinfo
socket.gethostbyname = gethostbyname
