//! One source file of arbitrary bytes through the whole front end: decode,
//! parse, check, lower, render the diagnostics both ways, and measure and
//! render coverage when it compiles. Any panic, overflow or hang is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pdca::coverage::{self, report};
use pdca::diag::render;
use pdca::load::Input;

fuzz_target!(|data: &[u8]| {
    let compilation = pdca::compile(vec![Input::from_bytes("fuzz.pdca", data.to_vec())]);
    let _ = render::human(&compilation.sources, &compilation.diagnostics, false);
    let _ = render::json_lines(&compilation.sources, &compilation.diagnostics);
    if let Some(program) = &compilation.program {
        if let Some(standard) = coverage::find_standard(program, coverage::DEFAULT_STANDARD) {
            let report = coverage::evaluate(program, standard);
            for format in [
                report::Format::Text,
                report::Format::Json,
                report::Format::Junit,
                report::Format::Sarif,
                report::Format::Markdown,
            ] {
                let _ = report::render(&report, format, "fuzz.pdca");
            }
        }
    }
});
