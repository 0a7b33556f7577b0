//! The `fkload` command: parse, run, print, exit. Everything else is in the
//! library; terminal concerns are in `cli`.

// No unwrap, expect or panic outside tests and proven invariants (which say
// why in an allow).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cli;

fn main() -> std::process::ExitCode {
    let code = match cli::parse() {
        Ok(args) => cli::run(&args),
        Err(code) => code,
    };
    std::process::ExitCode::from(code)
}
