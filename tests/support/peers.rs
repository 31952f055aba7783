//! Real third-party test peers (see `../shared/PEERS.md`), installed by
//! `.ci/run` with `npm ci --prefix tests/peers`: telegram-test-api, and
//! Prism serving Discord's OpenAPI spec. Each runs on 127.0.0.1 and is
//! stopped by PID when the test ends.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder the peers are installed in.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// True when the npm peers are installed. In CI (`CI` set) their absence is
/// a failure, not a skip.
pub fn installed() -> bool {
    let present = peers_dir().join("node_modules/.bin/prism").exists()
        && peers_dir().join("node_modules/telegram-test-api").exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "the npm test peers are missing: run `npm ci --prefix tests/peers` (.ci/run does)"
        );
        eprintln!("skipping: npm test peers not installed (npm ci --prefix tests/peers)");
    }
    present
}

/// The Python of the PyPI peers' virtual environment (slack_sdk, PyNaCl, localstripe).
pub fn python() -> PathBuf {
    peers_dir().join(".venv/bin/python")
}

/// True when the PyPI peers are installed; in CI their absence is a failure.
pub fn python_installed() -> bool {
    let present = python().exists();
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "the PyPI test peers are missing: python3 -m venv tests/peers/.venv && tests/peers/.venv/bin/pip install -r tests/peers/requirements.txt (.ci/run does)"
        );
        eprintln!("skipping: PyPI test peers not installed");
    }
    present
}

/// Runs `tests/peers/sign.py` with `args`; returns its one line of output.
pub fn sign(args: &[&str]) -> String {
    let output = Command::new(python())
        .arg(peers_dir().join("sign.py"))
        .args(args)
        .output()
        .expect("run sign.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A peer process, killed on drop.
pub struct Peer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Peer {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until_listening(port: u16, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts telegram-test-api.
pub async fn telegram_test_api() -> Peer {
    let port = free_port();
    let child = Command::new("node")
        .arg(peers_dir().join("telegram-test-api.js"))
        .arg(port.to_string())
        .current_dir(peers_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let peer = Peer { child, port };
    wait_until_listening(port, Duration::from_secs(30), "telegram-test-api").await;
    peer
}

/// Starts Prism mocking `../shared/discord/openapi.json` (about 20 s to start).
pub async fn prism_discord() -> Peer {
    let port = free_port();
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/discord/openapi.json");
    let child = Command::new(peers_dir().join("node_modules/.bin/prism"))
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec)
        .current_dir(peers_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prism");
    let peer = Peer { child, port };
    wait_until_listening(port, Duration::from_secs(120), "prism").await;
    peer
}

/// Starts localstripe on 127.0.0.1.
pub async fn localstripe() -> Peer {
    let port = free_port();
    let child = Command::new(python())
        .arg(peers_dir().join("localstripe_peer.py"))
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let peer = Peer { child, port };
    wait_until_listening(port, Duration::from_secs(30), "localstripe").await;
    peer
}
