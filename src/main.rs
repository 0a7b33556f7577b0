//! The `fkload` command: parse, run, print, exit. Everything else is in the
//! library; terminal concerns are in `cli`.

mod cli;

fn main() -> std::process::ExitCode {
    let code = match cli::parse() {
        Ok(args) => cli::run(&args),
        Err(code) => code,
    };
    std::process::ExitCode::from(code)
}
