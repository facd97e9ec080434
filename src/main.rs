//! The `polybrief` binary: parses the command line and hands each
//! subcommand to its module in `cli/`. All the work is in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
