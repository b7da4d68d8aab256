//! Clauses a declaration may give only once (E0107). Two `after`, two `when`
//! or two `by` on one transition used to be accepted, with the last one
//! silently winning (or the lists merged); now the second is an error that
//! points back at the first.

use super::span::Span;
use crate::diag::Diagnostic;

/// What a repeated clause should become instead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One value (`after 2h`, `initial`, `owner x`): keep one.
    Single,
    /// A list of names (`by a, b`): write them in one clause.
    List,
}

/// The single-valued clauses seen so far on one declaration.
#[derive(Default)]
pub(crate) struct Once {
    seen: Vec<(&'static str, Span)>,
}

impl Once {
    /// Records `clause` at `span` on `owner` (e.g. "transition `go`"); the
    /// diagnostic to report when the clause was given before. `owner` is
    /// only built then: most declarations repeat nothing, and a big process
    /// has tens of thousands of them.
    pub(crate) fn see(
        &mut self,
        owner: impl FnOnce() -> String,
        clause: &'static str,
        span: Span,
        kind: Kind,
    ) -> Option<Diagnostic> {
        let Some(&(_, first)) = self.seen.iter().find(|(c, _)| *c == clause) else {
            self.seen.push((clause, span));
            return None;
        };
        let owner = owner();
        let help = match kind {
            Kind::Single => format!(
                "remove one of the two `{clause}` clauses: {owner} takes one, and a second would silently replace the first"
            ),
            Kind::List => format!(
                "write one `{clause}` clause with every name, separated by commas, e.g. `{clause} a, b`"
            ),
        };
        Some(
            Diagnostic::new(
                "E0107",
                span,
                format!("`{clause}` is given twice on {owner}"),
            )
            .label(format!("second `{clause}`"))
            .with_secondary(first, format!("first `{clause}` here"))
            .help(help),
        )
    }
}
