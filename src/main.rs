use std::process::ExitCode;

fn main() -> ExitCode {
    pdca::cli::main()
}
