//! Helpers shared by the benchmark programs: the release binary beside the
//! example, the service started and ready, a free loopback port, and a
//! process's memory from `/proc`.

use std::path::{Path, PathBuf};

/// `target/release/stripe-chatops`, beside `target/release/examples/NAME`.
pub fn service_binary(example: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("stripe-chatops");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --release --bin stripe-chatops --example {example}` first",
        binary.display()
    );
    binary
}

/// Starts `stripe-chatops serve --config CONFIG` (listening on `port`)
/// and waits until `/readyz` answers 200.
#[allow(dead_code)] // not every benchmark starts the service this way
pub async fn start_service(example: &str, config: &Path, port: u16) -> std::process::Child {
    let child = std::process::Command::new(service_binary(example))
        .args(["serve", "--config"])
        .arg(config)
        .env(
            "RUST_LOG",
            std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    while !client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "server not ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`), or 0.
#[allow(dead_code)] // not every benchmark measures memory
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
