//! Generates realistic process files for benchmarks: each one an incident-
//! like process of a few hundred lines with its record, templates, approval,
//! SLAs, escalations and guards. Every file checks clean.

use std::fmt::Write;
use std::path::Path;

/// The text of generated file `i`.
pub fn process_file(i: usize) -> String {
    let mut s = String::with_capacity(12_000);
    let _ = writeln!(
        s,
        "// Generated process {i}: a support queue with triage, approval and SLAs."
    );
    s.push_str("use stdlib.roles.{service_desk, resolver, incident_manager, change_manager, top_management}\n");
    s.push_str("use stdlib.priority.{impact_urgency}\nuse stdlib.calendars.{business_hours}\n\n");
    let _ = writeln!(
        s,
        "template breach_{i} {{\n  subject \"SLA breached: {{{{sla.title}}}} on {{{{instance.id}}}}\"\n  body \"The {{{{sla.target}}}} target of {{{{sla.title}}}} was breached for {{{{record.summary}}}} ({{{{record.priority}}}}).\\nOpen: {{{{instance.url}}}}\\n\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "template major_{i} {{\n  subject \"Major ticket {{{{instance.id}}}}\"\n  body \"{{{{#if record.major}}}}Major: {{{{/if}}}}{{{{record.summary}}}} in {{{{instance.state}}}}\\n\"\n}}\n"
    );
    let _ = writeln!(
        s,
        "template resolved_{i} {{\n  subject \"Resolved: {{{{record.summary}}}}\"\n  body \"Your ticket {{{{instance.id}}}} was resolved: {{{{record.resolution}}}}\\n\"\n}}\n"
    );
    let _ = writeln!(s, "record Ticket{i} \"Ticket of queue {i}\" {{");
    let fields = [
        "  summary      text     required",
        "  description  text",
        "  category     enum(hardware, software, network, access, security, other) required at classified",
        "  impact       level    required",
        "  urgency      level    required",
        "  priority     priority = impact_urgency(impact, urgency)",
        "  major        bool     default false",
        "  customer     text",
        "  service      text     required at classified",
        "  assignee     text     required at in_progress",
        "  hold_reason  text",
        "  workaround   text",
        "  resolution   text     required at resolved",
        "  closure_code enum(fixed, workaround, duplicate, no_fault) required at closed",
        "  effort       duration",
        "  cost         decimal  default 0",
        "  reopened     int      default 0",
        "  due          date",
        "  tags         list of text",
        "  work_log     log",
    ];
    for f in fields {
        let _ = writeln!(s, "{f}");
    }
    s.push_str("}\n\n");
    let _ = writeln!(
        s,
        "process queue_{i} \"Support queue {i}\" for Ticket{i} {{"
    );
    s.push_str("  implements iso20000-1:2018 { 8.6.1 }\n  owner incident_manager\n  started by service_desk, resolver\n  calendar business_hours\n\n");
    let states = [
        ("logged", "initial is recorded"),
        ("classified", "is classified"),
        ("triaged", "is prioritized"),
        ("awaiting_approval", "is approval"),
        ("in_progress", "is active"),
        ("on_hold", "is waiting"),
        ("escalated", "is escalated"),
        ("investigating", "is investigated"),
        ("workaround_given", "is active"),
        ("resolved", "is resolved"),
        ("verified", "is verified"),
        ("rejected_request", "final is rejected"),
        ("cancelled", "final is cancelled"),
        ("closed", "final is closed"),
    ];
    for (name, flags) in states {
        let _ = writeln!(
            s,
            "  state {name:<18} \"{}\" {flags}",
            name.replace('_', " ")
        );
    }
    s.push('\n');
    let transitions = [
        (
            "classify",
            "logged",
            "classified",
            "by service_desk requires category, service",
        ),
        ("triage", "classified", "triaged", "by service_desk"),
        (
            "ask_approval",
            "triaged",
            "awaiting_approval",
            "by service_desk requires assignee when record.cost > 1000",
        ),
        (
            "assign",
            "triaged",
            "in_progress",
            "by service_desk, resolver requires assignee",
        ),
        (
            "hold",
            "in_progress",
            "on_hold",
            "by resolver requires hold_reason",
        ),
        ("resume", "on_hold", "in_progress", "by resolver"),
        (
            "escalate",
            "in_progress",
            "escalated",
            "by resolver when record.priority == \"P1\" || record.major",
        ),
        (
            "take_over",
            "escalated",
            "in_progress",
            "by incident_manager",
        ),
        ("investigate", "in_progress", "investigating", "by resolver"),
        (
            "give_workaround",
            "investigating",
            "workaround_given",
            "by resolver requires workaround",
        ),
        (
            "back_to_work",
            "workaround_given",
            "in_progress",
            "by resolver",
        ),
        (
            "resolve",
            "in_progress, investigating, workaround_given",
            "resolved",
            "by resolver requires resolution",
        ),
        ("reopen", "resolved", "in_progress", "by service_desk"),
        ("verify", "resolved", "verified", "by service_desk"),
        (
            "close",
            "verified",
            "closed",
            "by service_desk requires closure_code",
        ),
        (
            "cancel",
            "logged, classified, triaged",
            "cancelled",
            "by service_desk",
        ),
        (
            "withdraw",
            "in_progress, on_hold",
            "cancelled",
            "by service_desk, incident_manager",
        ),
    ];
    for (name, from, to, rest) in transitions {
        let _ = writeln!(s, "  // {name}: {from} to {to}");
        let _ = writeln!(s, "  transition {name} {from} -> {to} {rest}");
    }
    s.push_str(
        "\n  approval cost_ok \"Cost approval\" on awaiting_approval {\n    approvers change_manager\n    quorum any\n    distinct from requester\n    approved -> in_progress\n    rejected -> rejected_request\n    timeout 2 business days escalate to incident_manager\n  }\n\n",
    );
    let _ = writeln!(
        s,
        "  sla response \"Time to respond\" {{\n    from logged until in_progress, cancelled, rejected_request\n    pause in awaiting_approval\n    calendar business_hours\n    target by priority {{ P1 30m, P2 2h, P3 1 business days, P4 2 business days }}\n    warn at 50% notify service_desk\n    warn at 80% notify incident_manager\n    breach escalate to incident_manager template breach_{i}\n  }}\n"
    );
    let _ = writeln!(
        s,
        "  sla resolution \"Time to resolve\" {{\n    from logged until resolved, cancelled, rejected_request\n    pause in on_hold, awaiting_approval\n    calendar business_hours\n    target by priority {{ P1 4h, P2 8h, P3 3 business days, P4 5 business days }}\n    warn at 75% notify incident_manager\n    breach escalate to incident_manager, top_management template breach_{i}\n  }}\n"
    );
    let _ = writeln!(
        s,
        "  escalation major \"Major ticket\" when record.major && record.priority == \"P1\" {{\n    notify top_management template major_{i}\n    assign incident_manager\n  }}\n"
    );
    let _ = writeln!(
        s,
        "  escalation reopened \"Reopened twice\" when record.reopened >= 2 {{\n    notify incident_manager template major_{i}\n  }}\n"
    );
    let _ = writeln!(
        s,
        "  on enter resolved notify requester template resolved_{i}"
    );
    s.push_str("}\n");
    s
}

/// Writes `n` generated files into `dir`; returns the bytes written.
pub fn write_corpus(dir: &Path, n: usize) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    for i in 0..n {
        let text = process_file(i);
        bytes += text.len() as u64;
        std::fs::write(dir.join(format!("queue_{i:05}.pdca")), text)?;
    }
    Ok(bytes)
}
