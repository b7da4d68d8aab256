//! `pdca check [PATH...]`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::diag::render;
use crate::{compile, load};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Deny {
    Warnings,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (searched recursively for *.pdca)
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The project folder that `use "…"` lines may read from (default: the
    /// folders given, and the folders of the files given)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Output format: `human` (default) or `json` (one object per line)
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Treat warnings as errors
    #[arg(long, value_enum)]
    deny: Option<Deny>,
    /// Colour in human output
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
}

pub fn run(args: Args) -> ExitCode {
    let inputs = match load::collect_in(&args.paths, args.root.as_deref()) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    if inputs.is_empty() {
        eprintln!(
            "error: no .pdca files found in {}",
            args.paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(super::EXIT_USAGE);
    }
    let compilation = compile(inputs);
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => out.write_all(
            render::json_lines(&compilation.sources, &compilation.diagnostics).as_bytes(),
        ),
        Format::Human => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            let text = render::human(&compilation.sources, &compilation.diagnostics, color);
            out.write_all(text.as_bytes()).and_then(|_| {
                writeln!(
                    out,
                    "checked {} file{}: {} error{}, {} warning{}",
                    compilation.project_files,
                    plural(compilation.project_files),
                    compilation.errors(),
                    plural(compilation.errors()),
                    compilation.warnings(),
                    plural(compilation.warnings())
                )
            })
        }
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write output: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    }
    let failing = compilation.errors() > 0 || (args.deny.is_some() && compilation.warnings() > 0);
    if failing {
        ExitCode::from(super::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
