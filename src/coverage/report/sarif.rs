//! SARIF 2.1.0 (written with serde-sarif): one result per unmet obligation,
//! located at the claim of its clause. A clause nothing claims has no place
//! in the sources, so its results carry no location (SARIF allows that)
//! rather than a made-up one such as the first line of some file.

use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, Region,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use super::super::{ObligationStatus, Report};

pub fn render(report: &Report) -> Result<String, String> {
    let mut rules = Vec::new();
    let mut results = Vec::new();
    for c in &report.clauses {
        for o in c
            .obligations
            .iter()
            .filter(|o| o.status == ObligationStatus::Unmet)
        {
            rules.push(
                ReportingDescriptor::builder()
                    .id(o.id.clone())
                    .name(format!("clause {} {}", c.id, c.title))
                    .short_description(
                        MultiformatMessageString::builder()
                            .text(o.text.clone())
                            .build(),
                    )
                    .build(),
            );
            let locations: Vec<Location> = c
                .claimed_at
                .first()
                .map(|e| {
                    Location::builder()
                        .physical_location(
                            PhysicalLocation::builder()
                                .artifact_location(
                                    ArtifactLocation::builder().uri(e.file.clone()).build(),
                                )
                                .region(Region::builder().start_line(e.line as i64).build())
                                .build(),
                        )
                        .build()
                })
                .into_iter()
                .collect();
            let mut text = format!(
                "{} ({} {}): {}",
                o.id,
                c.id,
                c.title,
                o.reason.as_deref().unwrap_or("unmet")
            );
            if let Some(h) = &o.hint {
                text.push_str(&format!(". Help: {h}"));
            }
            results.push(
                SarifResult::builder()
                    .rule_id(o.id.clone())
                    .level(ResultLevel::Warning)
                    .message(Message::builder().text(text).build())
                    .locations(locations)
                    .build(),
            );
        }
    }
    let tool = Tool::builder()
        .driver(
            ToolComponent::builder()
                .name("pdca")
                .version(env!("CARGO_PKG_VERSION"))
                .full_name(format!("pdca coverage of {}", report.standard))
                .rules(rules)
                .build(),
        )
        .build();
    let sarif = Sarif::builder()
        .schema("https://json.schemastore.org/sarif-2.1.0.json")
        .version(serde_json::json!("2.1.0"))
        .runs(vec![Run::builder().tool(tool).results(results).build()])
        .build();
    serde_json::to_string_pretty(&sarif)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}
