//! Claim checks (E070x): `implements` / `satisfies` name a known standard and
//! clauses it has; `attests` names obligations it has. Whether the claimed
//! obligations are met is decided after lowering (W0701, see `compile`).

use std::collections::HashMap;

use super::resolve::suggest;
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, Claim};

/// The stdlib's standards, by id: clause ids and obligation ids.
pub struct Catalogs<'a> {
    standards: HashMap<&'a str, (Vec<&'a str>, Vec<&'a str>)>,
}

impl<'a> Catalogs<'a> {
    pub fn new(files: &'a [ast::File]) -> Self {
        let mut standards = HashMap::new();
        for s in files.iter().flat_map(|f| &f.standards) {
            let clauses = s.clauses.iter().map(|c| c.id.name.as_str()).collect();
            let obligations = s
                .clauses
                .iter()
                .flat_map(|c| &c.obligations)
                .map(|o| o.id.name.as_str())
                .collect();
            standards.insert(s.id.name.as_str(), (clauses, obligations));
        }
        Catalogs { standards }
    }

    pub fn check_claim(&self, claim: &Claim, diags: &mut Vec<Diagnostic>) {
        let Some((clauses, _)) = self.standards.get(claim.standard.name.as_str()) else {
            let known: Vec<&str> = self.standards.keys().copied().collect();
            let mut d = Diagnostic::new(
                "E0702",
                claim.standard.span,
                format!("unknown standard `{}`", claim.standard.name),
            )
            .label("no catalog for this standard");
            d = match suggest(&claim.standard.name, known.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("the known standards are: {}", known.join(", "))),
            };
            diags.push(d);
            return;
        };
        for clause in &claim.clauses {
            if clauses.contains(&clause.name.as_str()) {
                continue;
            }
            let mut d = Diagnostic::new(
                "E0701",
                clause.span,
                format!("`{}` has no clause {}", claim.standard.name, clause.name),
            )
            .label("unknown clause");
            d = match suggest(&clause.name, clauses.iter().copied()) {
                Some(s) => d.help(format!("did you mean {s}?")),
                None => d.help("clauses run from 4 to 10.2; `pdca coverage` lists them"),
            };
            diags.push(d);
        }
    }

    pub fn check_attests(&self, doc: &ast::Document, diags: &mut Vec<Diagnostic>) {
        for id in &doc.attests {
            if self
                .standards
                .values()
                .any(|(_, obs)| obs.contains(&id.name.as_str()))
            {
                continue;
            }
            let all = self
                .standards
                .values()
                .flat_map(|(_, obs)| obs.iter().copied());
            let mut d = Diagnostic::new(
                "E0703",
                id.span,
                format!("no standard has an obligation {}", id.name),
            )
            .label("unknown obligation");
            if let Some(s) = suggest(&id.name, all) {
                d = d.help(format!("did you mean {s}?"));
            } else {
                d = d.help("obligation ids look like `4.1-01`; `pdca coverage` lists them");
            }
            diags.push(d);
        }
    }
}
