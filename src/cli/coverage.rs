//! `pdca coverage [PATH...]`: clause-by-clause coverage of a standard.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::coverage::{self, report, DEFAULT_STANDARD};
use crate::diag::render;
use crate::{compile, load};

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (searched recursively for *.pdca)
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// The project folder that `use "…"` lines may read from (default: the
    /// folders given, and the folders of the files given)
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// The standard to measure against
    #[arg(long, default_value = DEFAULT_STANDARD)]
    standard: String,
    /// Report format
    #[arg(long, value_enum, default_value = "text")]
    format: report::Format,
    /// Write the report to this file instead of standard output
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Exit 1 when fewer than this percentage of clauses are covered
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    fail_under: Option<f64>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0 and 100"))
    }
}

pub fn run(args: Args) -> ExitCode {
    let inputs = match load::collect_in(&args.paths, args.root.as_deref()) {
        Ok(inputs) if !inputs.is_empty() => inputs,
        Ok(_) => {
            eprintln!("error: no .pdca files found");
            return ExitCode::from(super::EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let compilation = compile(inputs);
    let Some(program) = &compilation.program else {
        // Coverage is only meaningful for definitions that compile.
        eprint!(
            "{}",
            render::human(&compilation.sources, &compilation.diagnostics, false)
        );
        eprintln!(
            "error: the definitions have {} error(s); fix them before measuring coverage",
            compilation.errors()
        );
        return ExitCode::from(super::EXIT_FINDINGS);
    };
    let Some(standard) = coverage::find_standard(program, &args.standard) else {
        let known: Vec<&str> = program.standards.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "error: unknown standard `{}`; known: {}",
            args.standard,
            known.join(", ")
        );
        return ExitCode::from(super::EXIT_USAGE);
    };
    let report = coverage::evaluate(program, standard);
    let text = match report::render(&report, args.format) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot render the report: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| format!("cannot write `{}`: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write output: {e}")),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    if args.output.is_some() {
        eprintln!(
            "{}: {:.1}% of clauses covered",
            report.standard, report.summary.percent
        );
    }
    match args.fail_under {
        Some(threshold) if report.summary.percent < threshold => {
            eprintln!(
                "coverage {:.1}% is below --fail-under {threshold}%",
                report.summary.percent
            );
            ExitCode::from(super::EXIT_FINDINGS)
        }
        _ => ExitCode::SUCCESS,
    }
}
