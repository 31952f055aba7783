//! Helpers shared by the benchmark programs: the release binary beside the
//! example, a free loopback port, and a process's memory from `/proc`.

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

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A field of `/proc/PID/status` in KiB (`VmRSS:`, `VmHWM:`), or 0.
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
