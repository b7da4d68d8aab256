//! The pipeline: parse -> resolve + check -> lower. One entry function.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;

use crate::check::{self, resolve::Unit};
use crate::coverage::{self, ClaimSite};
use crate::diag::{self, Diagnostic};
use crate::ir::Program;
use crate::load::{self, Content, Input};
use crate::lower;
use crate::source::{SourceMap, MAX_FILE_BYTES};
use crate::stdlib;
use crate::syntax::{self, ast, span::Span};

/// The result of compiling a set of files.
pub struct Compilation {
    pub sources: SourceMap,
    /// Sorted by file and position, without duplicates.
    pub diagnostics: Vec<Diagnostic>,
    /// The compiled model; `None` when there are errors.
    pub program: Option<Program>,
    /// How many project files (not stdlib) were compiled.
    pub project_files: usize,
    /// Bytes of project source compiled.
    pub project_bytes: usize,
}

impl Compilation {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Decodes an input into the source map, reporting size and encoding problems.
fn add_input(
    sources: &mut SourceMap,
    input: &Input,
    diags: &mut Vec<Diagnostic>,
) -> Option<crate::syntax::span::FileId> {
    match &input.content {
        Content::TooLarge { len } => {
            let id = sources.add(input.name.clone(), String::new(), false);
            diags.push(
                Diagnostic::new(
                    "E0104",
                    Span::new(id, 0, 0),
                    format!(
                        "file is too large to check ({} bytes, the limit is {} bytes)",
                        len, MAX_FILE_BYTES
                    ),
                )
                .label("not read")
                .help("split the definitions into several files"),
            );
            None
        }
        Content::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Some(sources.add(input.name.clone(), text.to_string(), false)),
            Err(e) => {
                // Show the readable part so the label has a line to point at.
                let valid = e.valid_up_to();
                let text = String::from_utf8_lossy(&bytes[..valid]).into_owned();
                let id = sources.add(input.name.clone(), text, false);
                diags.push(
                    Diagnostic::new(
                        "E0103",
                        Span::new(id, valid, valid),
                        format!("file is not UTF-8 text (invalid byte at offset {valid})"),
                    )
                    .label("the text stops being UTF-8 here")
                    .help("save the file as UTF-8; binary files cannot hold definitions"),
                );
                None
            }
        },
    }
}

/// The diagnostic for a refused `use "…"`. It names the path as written and
/// never shows anything read from the refused file.
fn use_error(path: &str, span: Span, e: load::UseError) -> Diagnostic {
    const WHERE: &str = "a used file must be a `.pdca` file inside the project folder (the folders given to the command, or `--root DIR`)";
    match e {
        load::UseError::Outside(reason) => Diagnostic::new(
            "E0208",
            span,
            format!("used path `{path}` is outside the project"),
        )
        .label(reason)
        .help(format!(
            "{WHERE}; copy the definitions into the project and use them by a relative path"
        )),
        load::UseError::NotSource(reason) => Diagnostic::new(
            "E0209",
            span,
            format!("used path `{path}` is not a pdca source file"),
        )
        .label(reason)
        .help(format!(
            "{WHERE}, and a regular file (not a folder, pipe or device)"
        )),
        load::UseError::Unreadable { reason, tried } => {
            Diagnostic::new("E0204", span, format!("cannot read used file `{path}`"))
                .label(reason)
                .help(format!(
                    "the path is relative to this file's folder (looked for `{}`)",
                    tried.display()
                ))
        }
    }
}

/// The stdlib parsed once per process: its files always take the first file
/// ids, so the same syntax trees serve every compilation.
fn parsed_stdlib() -> &'static [(ast::File, Vec<Diagnostic>)] {
    static PARSED: std::sync::OnceLock<Vec<(ast::File, Vec<Diagnostic>)>> =
        std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        stdlib::MODULES
            .iter()
            .enumerate()
            .map(|(i, (_, text))| syntax::parse(crate::syntax::span::FileId(i as u32), text))
            .collect()
    })
}

/// Compiles project files together with the stdlib.
pub fn compile(inputs: Vec<Input>) -> Compilation {
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut files: Vec<ast::File> = Vec::new();
    let mut modules: Vec<Option<&'static str>> = Vec::new();

    for (i, (module, text)) in stdlib::MODULES.iter().enumerate() {
        let id = sources.add(stdlib::virtual_path(module), text.to_string(), true);
        debug_assert_eq!(id.0 as usize, i, "stdlib files come first");
        let (file, d) = &parsed_stdlib()[i];
        diags.extend(d.iter().cloned());
        files.push(file.clone());
        modules.push(Some(*module));
    }

    let mut seen_paths: HashSet<PathBuf> = HashSet::new();
    let mut queue: VecDeque<Input> = inputs.into();
    let mut project_files = 0;
    let mut project_bytes = 0;
    while let Some(input) = queue.pop_front() {
        if let Some(path) = &input.path {
            let key = path.canonicalize().unwrap_or_else(|_| path.clone());
            if !seen_paths.insert(key) {
                continue;
            }
        }
        project_files += 1;
        let Some(id) = add_input(&mut sources, &input, &mut diags) else {
            continue;
        };
        let text = &sources.get(id).text;
        project_bytes += text.len();
        let (file, d) = syntax::parse(id, text);
        let had_syntax_error = !d.is_empty();
        diags.extend(d);
        if file.is_empty() && !had_syntax_error {
            diags.push(
                Diagnostic::new("W0101", Span::new(id, 0, 0), "file declares nothing")
                    .label("no declarations in this file")
                    .help("add a `process`, `record`, `role` or other declaration, or delete the file"),
            );
        }
        for u in &file.uses {
            if let ast::Use::File { path, span } = u {
                match load::resolve_use(&input, path) {
                    Ok(used) => queue.push_back(used),
                    Err(e) => diags.push(use_error(path, *span, e)),
                }
            }
        }
        files.push(file);
        modules.push(None);
    }

    let unit = Unit {
        files: &files,
        stdlib_module: modules,
    };
    let env = check::check(&unit, &mut diags);
    diag::sort(&mut diags);
    diags.dedup();
    let program = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        let program = lower::lower(&sources, &env, &unit);
        diags.extend(coverage::claim_warnings(&program, &claim_sites(&unit)));
        diag::sort(&mut diags);
        Some(program)
    };
    Compilation {
        sources,
        diagnostics: diags,
        program,
        project_files,
        project_bytes,
    }
}

/// Every clause claimed by a project process or document, in source order.
fn claim_sites(unit: &Unit) -> Vec<ClaimSite> {
    let mut sites = Vec::new();
    for (fi, file) in unit.files.iter().enumerate() {
        if unit.stdlib_module[fi].is_some() {
            continue;
        }
        let claims = file
            .processes
            .iter()
            .flat_map(|p| &p.implements)
            .chain(file.documents.iter().flat_map(|d| &d.satisfies));
        for claim in claims {
            for clause in &claim.clauses {
                sites.push(ClaimSite {
                    standard: claim.standard.name.clone(),
                    clause: clause.name.clone(),
                    span: clause.span,
                });
            }
        }
    }
    sites
}
