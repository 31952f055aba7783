//! The `stripe-chatops` binary: everything happens in [`stripe_chatops::cli::run`].

fn main() -> std::process::ExitCode {
    stripe_chatops::cli::run()
}
