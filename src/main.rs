//! The `fkload` command: parse, run, print, exit. Everything else is in the
//! library; terminal concerns are in `cli`.

mod cli;

fn main() {
    let code = match cli::parse() {
        Ok(args) => cli::run(&args),
        Err(code) => code,
    };
    std::process::exit(code);
}
