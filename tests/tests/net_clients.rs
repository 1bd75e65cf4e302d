//! Real network clients against loopback servers the tests start: allowed endpoints work,
//! denied ones fail with the client's own connection error.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;

use arbiter_tests::{assert_code, have, stderr, stdout, Sandbox};

/// A one-shot HTTP server on 127.0.0.1 answering every connection with "hello".
fn http_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(false).unwrap();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            );
        }
    });
    (port, handle)
}

#[test]
fn curl_reaches_an_allowed_server_and_is_refused_elsewhere() {
    if !have("curl") {
        eprintln!("skipped: curl is not installed");
        return;
    }
    let sb = Sandbox::new();
    let (port, _h) = http_server();
    let url = format!("http://127.0.0.1:{port}/");
    let allow = format!("127.0.0.1:{port}");
    let o = sb.run(&["--connect", &allow], &["curl", "-s", &url]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "hello");
    // No rule for this port: curl's own "couldn't connect" (exit 7).
    let o = sb.run(&[], &["curl", "-s", &url]);
    assert_code(&o, 7);
}

#[test]
fn python_urllib_by_host_name_follows_name_rules() {
    let sb = Sandbox::new();
    let (port, _h) = http_server();
    let script = format!("import urllib.request\nprint(urllib.request.urlopen('http://localhost:{port}/').read().decode())");
    // `--connect NAME:PORT` allows resolving NAME and connecting to what it resolved to.
    let allow = format!("localhost:{port}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "hello", "{}", stderr(&o));
    // The address is allowed but the name may not be resolved: a clean resolution error.
    let numeric = format!("127.0.0.1:{port}");
    let o = sb.run(&["--connect", &numeric], &["python3", "-c", &script]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("URLError"), "{}", stderr(&o));
}

#[test]
fn python_http_server_binds_an_allowed_port_and_not_a_denied_one() {
    let sb = Sandbox::new();
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!("import socket\ns = socket.socket()\ns.bind(('127.0.0.1', {free}))\ns.listen()\nprint(s.getsockname()[1])");
    let allow = format!("127.0.0.1:{free}");
    let o = sb.run(&["--bind", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), free.to_string(), "{}", stderr(&o));
    let o = sb.run(&[], &["python3", "-c", &script]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("PermissionError"), "{}", stderr(&o));
}

#[test]
fn bind_to_port_zero_shows_the_real_port() {
    let sb = Sandbox::new();
    let script = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\nprint(s.getsockname()[1] > 0)";
    let o = sb.run(&["--bind", "127.0.0.1:0"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "True", "{}", stderr(&o));
}

#[test]
fn unix_socket_server_gets_exactly_the_policys_mode() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("p.toml"),
        "extends = [\"default\"]\n[[bind]]\nunix = \"$PWD/app.sock\"\nmode = \"0600\"\n[[connect]]\nunix = \"$PWD/app.sock\"\n",
    )
    .unwrap();
    let script = "import os, socket\nos.umask(0)\ns = socket.socket(socket.AF_UNIX)\ns.bind('app.sock')\ns.listen()\nc = socket.socket(socket.AF_UNIX)\nc.connect('app.sock')\nprint(oct(os.stat('app.sock').st_mode & 0o777))";
    let o = sb.run(&["--policy", "./p.toml"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "0o600", "{}", stderr(&o));
    assert_eq!(
        std::fs::metadata(sb.path("app.sock"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn an_existing_socket_path_is_never_silently_removed() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("p.toml"),
        "extends = [\"default\"]\n[[bind]]\nunix = \"$PWD/s.sock\"\n",
    )
    .unwrap();
    let _live = std::os::unix::net::UnixListener::bind(sb.path("s.sock")).unwrap();
    let script = "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.bind('s.sock')\nexcept OSError as e:\n    print(e.errno)";
    let o = sb.run(&["--policy", "./p.toml"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(
        stdout(&o).trim(),
        libc::EADDRINUSE.to_string(),
        "{}",
        stderr(&o)
    );
    assert!(sb.path("s.sock").exists());
}

#[test]
fn a_stale_socket_is_replaced_only_when_the_policy_says_so() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("p.toml"),
        "extends = [\"default\"]\n[[bind]]\nunix = \"$PWD/s.sock\"\nreplace_stale = true\n",
    )
    .unwrap();
    drop(std::os::unix::net::UnixListener::bind(sb.path("s.sock")).unwrap()); // dead server
    let script = "import socket\ns = socket.socket(socket.AF_UNIX)\ns.bind('s.sock')\ns.listen()\nprint('bound')";
    let o = sb.run(&["--policy", "./p.toml"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "bound", "{}", stderr(&o));
    assert!(
        !sb.path("s.sock.lock").exists(),
        "the lock file was left behind"
    );
}

#[test]
fn udp_client_and_server_pair() {
    let sb = Sandbox::new();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let script = format!("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.connect(('127.0.0.1', {port}))\ns.send(b'ping')\nprint(s.recv(16).decode())");
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        server
            .send_to(&buf[..n].to_ascii_uppercase(), from)
            .unwrap();
    });
    let allow = format!("udp:127.0.0.1:{port}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "PING", "{}", stderr(&o));
    h.join().unwrap();
}

#[test]
fn ipv6_loopback_connect() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"v6").unwrap();
    });
    let sb = Sandbox::new();
    let script = format!(
        "import socket\ns = socket.create_connection(('::1', {port}))\nprint(s.recv(8).decode())"
    );
    let allow = format!("[::1]:{port}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "v6", "{}", stderr(&o));
    h.join().unwrap();
}

#[test]
fn non_blocking_connect_reports_einprogress_and_completes_under_select() {
    let (port, _h) = http_server();
    let sb = Sandbox::new();
    let script = format!(
        "import errno, select, socket\ns = socket.socket()\ns.setblocking(False)\nr = s.connect_ex(('127.0.0.1', {port}))\n_, w, _ = select.select([], [s], [], 5)\nprint(r in (0, errno.EINPROGRESS), bool(w), s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))"
    );
    let allow = format!("127.0.0.1:{port}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "True True 0", "{}", stderr(&o));
}

#[test]
fn concurrent_binds_with_different_modes_each_get_their_own() {
    let sb = Sandbox::new();
    let modes = ["0600", "0640", "0660", "0666"];
    let mut policy = String::from("extends = [\"default\"]\n");
    for (i, m) in modes.iter().enumerate() {
        policy.push_str(&format!(
            "[[bind]]\nunix = \"$PWD/s{i}.sock\"\nmode = \"{m}\"\n"
        ));
    }
    std::fs::write(sb.path("p.toml"), policy).unwrap();
    // Four threads bind and unlink their own socket 50 times each, checking the mode the
    // file has the moment bind returns; the broker serves them concurrently.
    let script = r#"
import os, socket, threading
want = [0o600, 0o640, 0o660, 0o666]
bad = []
def run(i):
    for _ in range(50):
        s = socket.socket(socket.AF_UNIX)
        s.bind(f's{i}.sock')
        m = os.stat(f's{i}.sock').st_mode & 0o777
        if m != want[i]:
            bad.append((i, oct(m)))
        s.close()
        os.unlink(f's{i}.sock')
ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print('bad', bad)
"#;
    let o = sb.run(&["--policy", "./p.toml"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "bad []", "{}", stderr(&o));
}

#[test]
fn gethostbyname_follows_the_same_resolve_rules() {
    let sb = Sandbox::new();
    // Python's gethostbyname_ex is glibc's gethostbyname_r.
    let script = "import socket\ntry:\n    print(socket.gethostbyname_ex('localhost')[2])\nexcept OSError as e:\n    print('error', e.errno)";
    let o = sb.run(&["--resolve", "localhost"], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "['127.0.0.1']", "{}", stderr(&o));
    let o = sb.run(&[], &["python3", "-c", script]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("error"), "{}", stdout(&o));
}

#[test]
fn non_blocking_connect_completes_under_epoll() {
    let (port, _h) = http_server();
    let sb = Sandbox::new();
    let script = format!(
        "import errno, select, socket\ns = socket.socket()\ns.setblocking(False)\nr = s.connect_ex(('127.0.0.1', {port}))\ne = select.epoll()\ne.register(s.fileno(), select.EPOLLOUT)\nev = e.poll(5)\nprint(r in (0, errno.EINPROGRESS), bool(ev), s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))"
    );
    let allow = format!("127.0.0.1:{port}");
    let o = sb.run(&["--connect", &allow], &["python3", "-c", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "True True 0", "{}", stderr(&o));
}

#[test]
fn node_http_get_reaches_an_allowed_server_and_is_refused_elsewhere() {
    if !have("node") {
        println!("SKIP: node is not installed");
        return;
    }
    let (port, _h) = http_server();
    let sb = Sandbox::new();
    let script = format!(
        "require('http').get('http://127.0.0.1:{port}/', r => r.on('data', d => process.stdout.write(d))).on('error', e => {{ console.log(e.code); }})"
    );
    let allow = format!("127.0.0.1:{port}");
    let o = sb.run(&["--connect", &allow], &["node", "-e", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "hello", "{}", stderr(&o));
    let o = sb.run(&[], &["node", "-e", &script]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o).trim(), "EACCES", "{}", stderr(&o));
}

#[test]
fn git_clones_over_a_local_http_server() {
    if !have("git") || !have("python3") {
        println!("SKIP: git or python3 is not installed");
        return;
    }
    let serve = tempfile::Builder::new()
        .prefix("arbiter-git-")
        .tempdir()
        .unwrap();
    let git = |dir: &std::path::Path, args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let work = serve.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("file"), "cloned\n").unwrap();
    git(&work, &["add", "file"]);
    git(
        &work,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "one",
        ],
    );
    git(serve.path(), &["clone", "-q", "--bare", "work", "repo.git"]);
    git(&serve.path().join("repo.git"), &["update-server-info"]);
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &free.to_string(),
        ])
        .current_dir(serve.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the server answers (it binds after the interpreter starts).
    while std::net::TcpStream::connect(("127.0.0.1", free)).is_err() {
        if server.try_wait().unwrap().is_some() {
            panic!("python3 -m http.server exited");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sb = Sandbox::new();
    let url = format!("http://127.0.0.1:{free}/repo.git");
    let allow = format!("127.0.0.1:{free}");
    let o = sb.run(&["--connect", &allow], &["git", "clone", "-q", &url, "out"]);
    let cloned = std::fs::read_to_string(sb.path("out/file"));
    let denied = sb.run(&[], &["git", "clone", "-q", &url, "out2"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_code(&o, 0);
    assert_eq!(cloned.unwrap(), "cloned\n", "{}", stderr(&o));
    assert_ne!(
        denied.status.code(),
        Some(0),
        "a clone without a connect rule"
    );
    assert!(!sb.path("out2/file").exists());
}
