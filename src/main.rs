//! The `sshmap` binary: parses the command line and hands it to [`sshmap::commands`].

use clap::Parser;

fn main() {
    let cli = sshmap::cli::Cli::parse();
    let code = match sshmap::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if sshmap::commands::is_broken_pipe(&err) {
                0
            } else {
                eprintln!("sshmap: error: {err:#}");
                2
            }
        }
    };
    std::process::exit(code);
}
