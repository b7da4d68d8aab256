//! JUnit XML: one test suite per clause, one test case per obligation,
//! a failure for each unmet obligation (written with quick-junit).

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::super::{ObligationStatus, Report};

pub fn render(report: &Report) -> Result<String, String> {
    let mut junit = JunitReport::new(format!("pdca coverage {}", report.standard));
    for c in &report.clauses {
        let mut suite = TestSuite::new(format!("{} {}", c.id, c.title));
        for o in &c.obligations {
            let status = match o.status {
                ObligationStatus::Met => TestCaseStatus::success(),
                ObligationStatus::Unmet => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(o.reason.clone().unwrap_or_default());
                    s.set_type("unmet obligation");
                    if let Some(h) = &o.hint {
                        s.set_description(format!("{}\nhelp: {h}", o.text));
                    }
                    s
                }
            };
            let mut case = TestCase::new(format!("{} {}", o.id, o.text), status);
            case.set_classname(format!("{}.{}", report.standard, c.id));
            if o.status == ObligationStatus::Met {
                let ev: Vec<String> = o
                    .evidence
                    .iter()
                    .map(|e| format!("{}:{}", e.file, e.line))
                    .collect();
                case.set_system_out(format!("evidence: {}", ev.join(", ")));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().map_err(|e| e.to_string())
}
