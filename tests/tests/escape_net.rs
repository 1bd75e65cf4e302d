//! Network escapes with raw syscalls: TCP, pathname and abstract unix sockets, UDP.
//! Each works natively and is denied under arbiter (seccomp answers first, with EACCES).

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use common::{denied, Scene};

const EACCES: i32 = libc::EACCES;

#[test]
fn tcp_connect_to_loopback() {
    let s = Scene::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    denied(&s, &["tcp", &port], EACCES, || {});
}

#[test]
fn udp_sendto_loopback() {
    let s = Scene::new();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port().to_string();
    denied(&s, &["udp", &port], EACCES, || {});
}

#[test]
fn unix_socket_outside() {
    let s = Scene::new();
    let p = s.path("outside/sock");
    let _l = UnixListener::bind(&p).unwrap();
    denied(&s, &["unix", p.to_str().unwrap()], EACCES, || {});
}

#[test]
fn abstract_socket_of_the_host() {
    let s = Scene::new();
    let name = format!("arbiter-test-{}", std::process::id());
    let _l =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    denied(&s, &["abstract", &name], EACCES, || {});
}
