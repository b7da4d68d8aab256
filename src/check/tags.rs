//! Tags that contradict (E0206). The vocabulary says which tags exclude
//! each other (`tag closed "…" excludes active, waiting`); a state that
//! carries both claims two meanings no instance can have at once, which
//! would let one state stand in for a whole process in the coverage report.

use std::collections::HashSet;

use super::resolve::{Env, Kind};
use crate::diag::Diagnostic;
use crate::syntax::ast;

/// Pairs of tags that no state may carry together, from every `tag` decl.
#[derive(Default)]
pub struct Exclusions<'a> {
    pairs: HashSet<(&'a str, &'a str)>,
}

impl<'a> Exclusions<'a> {
    pub fn new(files: &'a [ast::File]) -> Self {
        let mut pairs = HashSet::new();
        for tag in files.iter().flat_map(|f| &f.tags) {
            for other in &tag.excludes {
                let (a, b) = (tag.name.name.as_str(), other.name.as_str());
                pairs.insert((a, b));
                pairs.insert((b, a));
            }
        }
        Exclusions { pairs }
    }

    /// The names after `excludes` must be tags.
    pub fn check_decls(env: &Env, fi: usize, file: &ast::File, diags: &mut Vec<Diagnostic>) {
        for other in file.tags.iter().flat_map(|t| &t.excludes) {
            env.resolve(fi, Kind::Tag, other, diags);
        }
    }

    /// E0206 for each contradicting pair of tags on one state.
    pub fn check_state(&self, state: &ast::State, diags: &mut Vec<Diagnostic>) {
        for (i, a) in state.tags.iter().enumerate() {
            for b in &state.tags[i + 1..] {
                if !self.pairs.contains(&(a.name.as_str(), b.name.as_str())) {
                    continue;
                }
                diags.push(
                    Diagnostic::new(
                        "E0206",
                        b.span,
                        format!(
                            "state `{}` is tagged both `{}` and `{}`, which contradict each other",
                            state.name.name, a.name, b.name
                        ),
                    )
                    .label(format!("`{}` excludes `{}`", b.name, a.name))
                    .with_secondary(a.span, "first meaning given here")
                    .help(format!(
                        "keep the tag that says what `{}` means, or split it into two states joined by a transition",
                        state.name.name
                    )),
                );
            }
        }
    }
}
