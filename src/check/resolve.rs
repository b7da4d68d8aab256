//! Name resolution: which declaration each name refers to.
//!
//! Scoping rules (documented in README):
//! - every declaration in a project file is visible in every project file
//!   (one namespace per kind: roles, tags, calendars, matrices, templates,
//!   records, processes, documents); a name declared twice is an error;
//! - stdlib declarations are visible only where a `use stdlib.module…` imports
//!   them, except the tag vocabulary (`stdlib.tags`), which is always in scope;
//! - `use "path.pdca"` loads another file into the project (see `crate::load`).

use std::collections::HashMap;

use crate::diag::Diagnostic;
use crate::syntax::ast::{self, UseNames};
use crate::syntax::span::{Ident, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Role,
    Tag,
    Calendar,
    Matrix,
    Template,
    Record,
    Process,
    Document,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::Tag => "tag",
            Kind::Calendar => "calendar",
            Kind::Matrix => "matrix",
            Kind::Template => "template",
            Kind::Record => "record",
            Kind::Process => "process",
            Kind::Document => "document",
        }
    }
}

/// Where a declaration lives: `files[file]`, the `index`-th item of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeclRef {
    pub file: usize,
    pub index: usize,
}

type Table<'a> = HashMap<(Kind, &'a str), DeclRef>;

/// A compilation unit's files, each with its stdlib module name if it has one.
pub struct Unit<'a> {
    pub files: &'a [ast::File],
    /// `Some("roles")` for `<stdlib>/roles.pdca`.
    pub stdlib_module: Vec<Option<&'a str>>,
}

pub struct Env<'a> {
    pub files: &'a [ast::File],
    project: Table<'a>,
    stdlib: HashMap<&'a str, Table<'a>>,
    imports: Vec<Table<'a>>,
    prelude: Table<'a>,
}

/// The declarations of one file, by kind.
fn declarations(file: &ast::File) -> Vec<(Kind, &Ident, usize)> {
    let mut out = Vec::new();
    out.extend(
        file.roles
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Role, &d.name, i)),
    );
    out.extend(
        file.tags
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Tag, &d.name, i)),
    );
    out.extend(
        file.calendars
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Calendar, &d.name, i)),
    );
    out.extend(
        file.matrices
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Matrix, &d.name, i)),
    );
    out.extend(
        file.templates
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Template, &d.name, i)),
    );
    out.extend(
        file.records
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Record, &d.name, i)),
    );
    out.extend(
        file.processes
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Process, &d.name, i)),
    );
    out.extend(
        file.documents
            .iter()
            .enumerate()
            .map(|(i, d)| (Kind::Document, &d.name, i)),
    );
    out
}

impl<'a> Env<'a> {
    pub fn build(unit: &Unit<'a>, diags: &mut Vec<Diagnostic>) -> Env<'a> {
        let files = unit.files;
        let mut project: Table<'a> = HashMap::new();
        let mut stdlib: HashMap<&'a str, Table<'a>> = HashMap::new();
        for (fi, file) in files.iter().enumerate() {
            let table = match unit.stdlib_module[fi] {
                Some(module) => stdlib.entry(module).or_default(),
                None => &mut project,
            };
            for (kind, name, index) in declarations(file) {
                if name.name.is_empty() {
                    continue;
                }
                let here = DeclRef { file: fi, index };
                if let Some(first) = table.get(&(kind, name.name.as_str())) {
                    let first_span = decl_name(files, kind, *first).span;
                    diags.push(
                        Diagnostic::new(
                            "E0202",
                            name.span,
                            format!("{} `{}` is defined more than once", kind.noun(), name.name),
                        )
                        .label("defined again here")
                        .with_secondary(first_span, "first defined here")
                        .help(format!(
                            "rename one of them or remove the duplicate {}",
                            kind.noun()
                        )),
                    );
                } else {
                    table.insert((kind, name.name.as_str()), here);
                }
            }
        }
        let prelude = stdlib
            .get("tags")
            .map(|t| {
                t.iter()
                    .filter(|((k, _), _)| *k == Kind::Tag)
                    .map(|(k, v)| (*k, *v))
                    .collect()
            })
            .unwrap_or_default();

        let mut env = Env {
            files,
            project,
            stdlib,
            imports: Vec::new(),
            prelude,
        };
        let imports = files.iter().map(|f| env.imports_of(f, diags)).collect();
        env.imports = imports;
        env
    }

    fn imports_of(&self, file: &'a ast::File, diags: &mut Vec<Diagnostic>) -> Table<'a> {
        let mut table: Table<'a> = HashMap::new();
        let mut import_spans: HashMap<(Kind, &'a str), Span> = HashMap::new();
        for u in &file.uses {
            let ast::Use::Stdlib {
                module,
                names,
                span: use_span,
            } = u
            else {
                continue;
            };
            let Some(exports) = self.stdlib.get(module.name.as_str()) else {
                let mut modules: Vec<&str> = self.stdlib.keys().copied().collect();
                modules.sort_unstable();
                let mut d = Diagnostic::new(
                    "E0203",
                    module.span,
                    format!("the stdlib has no module `{}`", module.name),
                )
                .label("unknown module");
                d = match suggest(&module.name, modules.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `stdlib.{s}`?")),
                    None => d.help(format!("the stdlib modules are {}", modules.join(", "))),
                };
                diags.push(d);
                continue;
            };
            match names {
                UseNames::All => {
                    for (key, r) in exports {
                        table.insert(*key, *r);
                        import_spans.insert(*key, *use_span);
                    }
                }
                UseNames::Some(list) => {
                    for name in list {
                        let found: Vec<_> = exports
                            .iter()
                            .filter(|((_, n), _)| *n == name.name)
                            .map(|(k, v)| (*k, *v))
                            .collect();
                        if found.is_empty() {
                            let mut d = Diagnostic::new(
                                "E0203",
                                name.span,
                                format!("`stdlib.{}` has no `{}`", module.name, name.name),
                            )
                            .label("not in this module");
                            if let Some(s) = suggest(&name.name, exports.keys().map(|(_, n)| *n)) {
                                d = d.help(format!("did you mean `{s}`?"));
                            } else if let Some(other) = self.stdlib_module_of(&name.name) {
                                d = d.help(format!("`{}` is in `stdlib.{other}`", name.name));
                            }
                            diags.push(d);
                        }
                        for (k, v) in found {
                            table.insert(k, v);
                            import_spans.insert(k, *use_span);
                        }
                    }
                }
            }
        }
        // A project declaration and an import of the same name would be ambiguous.
        let mut clashes: Vec<_> = import_spans
            .iter()
            .filter_map(|(key, use_span)| self.project.get(key).map(|p| (*key, *p, *use_span)))
            .collect();
        clashes.sort_by_key(|(key, _, _)| *key);
        for ((kind, name), declared, use_span) in clashes {
            let decl = decl_name(self.files, kind, declared);
            diags.push(
                Diagnostic::new(
                    "E0202",
                    use_span,
                    format!(
                        "{} `{name}` is imported from the stdlib and also declared in the project",
                        kind.noun()
                    ),
                )
                .label("imported here")
                .with_secondary(decl.span, "declared here")
                .help("rename the declaration or drop the name from the `use`"),
            );
        }
        table
    }

    fn stdlib_module_of(&self, name: &str) -> Option<&'a str> {
        let mut modules: Vec<_> = self
            .stdlib
            .iter()
            .filter(|(_, t)| t.keys().any(|(_, n)| *n == name))
            .map(|(m, _)| *m)
            .collect();
        modules.sort_unstable();
        modules.first().copied()
    }

    /// Looks a name up as seen from file `fi`.
    pub fn lookup(&self, fi: usize, kind: Kind, name: &str) -> Option<DeclRef> {
        let key = (kind, name);
        self.project
            .get(&key)
            .or_else(|| self.imports.get(fi).and_then(|t| t.get(&key)))
            .or_else(|| self.prelude.get(&key))
            .copied()
    }

    /// Looks a name up and reports E0201, with a suggestion, when it is undefined.
    pub fn resolve(
        &self,
        fi: usize,
        kind: Kind,
        ident: &Ident,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<DeclRef> {
        if ident.name.is_empty() {
            return None;
        }
        if let Some(r) = self.lookup(fi, kind, &ident.name) {
            return Some(r);
        }
        diags.push(self.undefined(fi, kind, ident));
        None
    }

    fn undefined(&self, fi: usize, kind: Kind, ident: &Ident) -> Diagnostic {
        let mut d = Diagnostic::new(
            "E0201",
            ident.span,
            format!("undefined {} `{}`", kind.noun(), ident.name),
        )
        .label(format!("no {} with this name", kind.noun()));
        // Declared in the stdlib but not imported: say which `use` brings it in.
        let in_stdlib = {
            let mut modules: Vec<_> = self
                .stdlib
                .iter()
                .filter(|(_, t)| t.contains_key(&(kind, ident.name.as_str())))
                .map(|(m, _)| *m)
                .collect();
            modules.sort_unstable();
            modules.first().copied()
        };
        if let Some(module) = in_stdlib {
            return d.help(format!(
                "`{}` is in the stdlib: add `use stdlib.{module}.{{{}}}`",
                ident.name, ident.name
            ));
        }
        let visible = self.visible(fi, kind);
        if let Some(s) = suggest(&ident.name, visible.iter().copied()) {
            d = d.help(format!("did you mean `{s}`?"));
        } else if kind == Kind::Process || kind == Kind::Record {
            d = d.help(format!(
                "declare the {} in a project file, or check the file that declares it together with this one",
                kind.noun()
            ));
        } else {
            d = d.help(format!("declare it with `{} {}`", kind.noun(), ident.name));
        }
        d
    }

    /// Every name of a kind visible from file `fi`.
    pub fn visible(&self, fi: usize, kind: Kind) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = self
            .project
            .keys()
            .chain(self.imports.get(fi).into_iter().flat_map(|t| t.keys()))
            .chain(self.prelude.keys())
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| *n)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn role(&self, r: DeclRef) -> &'a ast::Role {
        &self.files[r.file].roles[r.index]
    }
    pub fn calendar(&self, r: DeclRef) -> &'a ast::Calendar {
        &self.files[r.file].calendars[r.index]
    }
    pub fn matrix(&self, r: DeclRef) -> &'a ast::Matrix {
        &self.files[r.file].matrices[r.index]
    }
    pub fn template(&self, r: DeclRef) -> &'a ast::Template {
        &self.files[r.file].templates[r.index]
    }
    pub fn record(&self, r: DeclRef) -> &'a ast::Record {
        &self.files[r.file].records[r.index]
    }
    pub fn process(&self, r: DeclRef) -> &'a ast::Process {
        &self.files[r.file].processes[r.index]
    }
}

fn decl_name(files: &[ast::File], kind: Kind, r: DeclRef) -> &Ident {
    let f = &files[r.file];
    match kind {
        Kind::Role => &f.roles[r.index].name,
        Kind::Tag => &f.tags[r.index].name,
        Kind::Calendar => &f.calendars[r.index].name,
        Kind::Matrix => &f.matrices[r.index].name,
        Kind::Template => &f.templates[r.index].name,
        Kind::Record => &f.records[r.index].name,
        Kind::Process => &f.processes[r.index].name,
        Kind::Document => &f.documents[r.index].name,
    }
}

/// The closest candidate to a misspelt name, if one is close enough.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| {
            *d <= limit || (c.len() > 3 && (c.starts_with(name) || name.starts_with(c)))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Reports duplicate names in a list of local declarations (states, fields…).
pub fn check_unique<'i>(
    what: &str,
    items: impl IntoIterator<Item = &'i Ident>,
    diags: &mut Vec<Diagnostic>,
) -> HashMap<&'i str, usize> {
    let mut seen: HashMap<&'i str, (usize, Span)> = HashMap::new();
    for (i, ident) in items.into_iter().enumerate() {
        if ident.name.is_empty() {
            continue;
        }
        if let Some((_, first)) = seen.get(ident.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    "E0202",
                    ident.span,
                    format!("{what} `{}` is defined more than once", ident.name),
                )
                .label("defined again here")
                .with_secondary(*first, "first defined here")
                .help(format!("rename one of them or remove the duplicate {what}")),
            );
        } else {
            seen.insert(ident.name.as_str(), (i, ident.span));
        }
    }
    seen.into_iter().map(|(k, (i, _))| (k, i)).collect()
}

/// Reports a name that is not in a local list (a state, a field), with a suggestion.
pub fn undefined_local<'c>(
    what: &str,
    ident: &Ident,
    candidates: impl IntoIterator<Item = &'c str>,
    context: &str,
) -> Diagnostic {
    let mut d = Diagnostic::new(
        "E0201",
        ident.span,
        format!("undefined {what} `{}`", ident.name),
    )
    .label(format!("no {what} with this name {context}"));
    if let Some(s) = suggest(&ident.name, candidates) {
        d = d.help(format!("did you mean `{s}`?"));
    } else {
        d = d.help(format!("declare the {what} first, or fix the name"));
    }
    d
}
