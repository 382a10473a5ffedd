//! The `sshmap` binary: parses the command line and hands it to [`sshmap::app`].

use clap::Parser;

fn main() {
    let cli = sshmap::cli::Cli::parse();
    let code = match sshmap::app::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if sshmap::app::is_broken_pipe(&err) {
                0
            } else {
                eprintln!("sshmap: error: {err:#}");
                2
            }
        }
    };
    std::process::exit(code);
}
