//! Claim checks (E070x): `implements` / `satisfies` name a known standard and
//! clauses it has; `attests` names obligations it has. Whether the claimed
//! obligations are met is decided after lowering (W0701, see `compile`).

use std::collections::{HashMap, HashSet};

use super::resolve::suggest;
use crate::diag::Diagnostic;
use crate::syntax::ast::{self, Claim};

/// The stdlib's standards, by id: clause ids and obligation ids.
pub struct Catalogs<'a> {
    standards: HashMap<&'a str, (Vec<&'a str>, Vec<&'a str>)>,
    /// Ids of the obligations only a document can attest.
    attested: Vec<&'a str>,
    /// Tags some obligation requires an approval before.
    gated: HashSet<&'a str>,
}

impl<'a> Catalogs<'a> {
    pub fn new(files: &'a [ast::File]) -> Self {
        let mut standards = HashMap::new();
        let mut attested = Vec::new();
        let mut gated = HashSet::new();
        for s in files.iter().flat_map(|f| &f.standards) {
            for o in s.clauses.iter().flat_map(|c| &c.obligations) {
                if o.attested {
                    attested.push(o.id.name.as_str());
                }
                for p in &o.predicates {
                    if let ast::PredicateKind::Approval(Some(tag)) = &p.kind {
                        gated.insert(tag.name.as_str());
                    }
                }
            }
            let clauses = s.clauses.iter().map(|c| c.id.name.as_str()).collect();
            let obligations = s
                .clauses
                .iter()
                .flat_map(|c| &c.obligations)
                .map(|o| o.id.name.as_str())
                .collect();
            standards.insert(s.id.name.as_str(), (clauses, obligations));
        }
        Catalogs {
            standards,
            attested,
            gated,
        }
    }

    /// Tags that some obligation requires an approval before (E0604).
    pub fn gated_tags(&self) -> &HashSet<&'a str> {
        &self.gated
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

    /// E0704: the obligation exists but a definition can show it, so a
    /// document's word does not count for it.
    fn not_attested(&self, id: &crate::syntax::span::Ident) -> Diagnostic {
        let d = Diagnostic::new(
            "E0704",
            id.span,
            format!("obligation {} cannot be attested", id.name),
        )
        .label("the catalog checks this obligation against definitions, not a document's word");
        match suggest(&id.name, self.attested.iter().copied()) {
            Some(s) => d.help(format!(
                "did you mean {s}? otherwise remove {} from `attests` and meet it with a definition (`pdca coverage` shows how)",
                id.name
            )),
            None => d.help(format!(
                "remove {} from `attests`; the attested obligations are {}",
                id.name,
                self.attested.join(", ")
            )),
        }
    }

    pub fn check_attests(&self, doc: &ast::Document, diags: &mut Vec<Diagnostic>) {
        for id in &doc.attests {
            if self
                .standards
                .values()
                .any(|(_, obs)| obs.contains(&id.name.as_str()))
            {
                if !self.attested.contains(&id.name.as_str()) {
                    diags.push(self.not_attested(id));
                }
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
