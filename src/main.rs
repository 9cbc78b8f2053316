//! Parse the command line, run it, print `chama: <error>` and exit with its code.

use std::io;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // `--version` also names what is linked in (the patched libssh2, OpenSSL, SQLite, zlib-rs).
    let matches = chama::cli::Cli::command()
        .long_version(&*Box::leak(chama::versions().into_boxed_str()))
        .get_matches();
    let cli = match chama::cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match chama::cmd::execute(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            // A closed pipe (`chama spec try ... | head`) is a normal way to stop.
            if err.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            chama::log::error(&format!("{err:#}"));
            ExitCode::from(chama::exit::code_of(&err) as u8)
        }
    }
}
