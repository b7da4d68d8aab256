//! Who may read a process and its instances: anyone holding one of the
//! roles the definition names. One rule everywhere: for an instance, the
//! roles of the definition version it runs on (it stays pinned to it across
//! redeploys), never those of the active version.

use std::collections::HashSet;

use super::Actor;
use crate::ir::Process;

/// Every role a process names: its owner, starters, the roles that fire
/// its transitions or decide its approvals, and those it notifies.
pub fn process_roles(p: &Process) -> HashSet<&str> {
    let mut roles: HashSet<&str> = HashSet::new();
    roles.extend(p.owner.as_deref());
    roles.extend(p.started_by.iter().map(String::as_str));
    for t in &p.transitions {
        roles.extend(t.by.iter().map(String::as_str));
    }
    for a in &p.approvals {
        roles.extend(a.approvers.iter().map(String::as_str));
        roles.extend(a.timeout_escalate_to.iter().map(String::as_str));
    }
    for s in &p.slas {
        roles.extend(s.breach_escalate_to.iter().map(String::as_str));
        for w in &s.warns {
            roles.extend(w.notify.iter().map(String::as_str));
        }
    }
    for e in &p.escalations {
        for n in &e.notify {
            roles.extend(n.roles.iter().map(String::as_str));
        }
    }
    for o in &p.on_enter {
        roles.extend(o.notify.iter().map(String::as_str));
    }
    roles
}

/// Whether `actor` may read the definition `p` and the instances running
/// on it: it holds one of the roles the process names.
pub fn can_read(actor: &Actor, p: &Process) -> bool {
    let roles = process_roles(p);
    actor.roles.iter().any(|r| roles.contains(r.as_str()))
}
