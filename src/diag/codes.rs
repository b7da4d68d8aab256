//! The registry of diagnostic codes. Every code has a one-line title and a
//! long explanation (`pdca explain CODE`) kept in `src/diag/explain/CODE.md`.

pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($code:literal => $title:literal,)*) => {
        /// Every registered code, in order.
        pub static CODES: &[CodeInfo] = &[
            $(CodeInfo {
                code: $code,
                title: $title,
                explanation: include_str!(concat!("explain/", $code, ".md")),
            },)*
        ];
    };
}

codes! {
    // syntax
    "E0101" => "unexpected input",
    "E0102" => "unterminated string",
    "E0103" => "file is not UTF-8 text",
    "E0104" => "file is too large",
    "E0105" => "invalid literal",
    "E0106" => "unbalanced braces",
    "E0107" => "clause given twice",
    "W0101" => "file declares nothing",
    // names
    "E0201" => "undefined name",
    "E0202" => "duplicate definition",
    "E0203" => "unknown import",
    "E0204" => "used file cannot be read",
    "E0205" => "unknown type",
    "E0206" => "contradicting tags",
    "E0208" => "used path is outside the project",
    "E0209" => "used path is not a pdca source file",
    // graph
    "E0301" => "no initial state",
    "E0302" => "more than one initial state",
    "E0303" => "no final state",
    "E0304" => "state cannot reach a final state",
    "E0305" => "transition out of a final state",
    "E0306" => "processes spawn each other in a cycle when they start",
    "W0301" => "unreachable state",
    "W0302" => "transition nobody can fire",
    // records, guards, templates
    "E0401" => "default value does not fit the field type",
    "E0402" => "required field may be unset on an automatic path",
    "E0403" => "guard expression does not compile",
    "E0404" => "guard reads an undeclared name",
    "E0405" => "template does not compile",
    "E0406" => "template uses an undeclared variable",
    "E0407" => "derived field does not match its matrix",
    "E0408" => "matrix is not exhaustive or not well-typed",
    "E0409" => "link field has the wrong type",
    "E0410" => "spawned instance lacks a field it needs",
    "E0411" => "guard compares or combines values of different types",
    "E0412" => "guard literal is not a value of the compared type",
    "E0413" => "guard or guard operand is not surely true or false",
    "E0414" => "guard uses something outside the guard language",
    // SLA clocks and calendars
    "E0501" => "SLA clock may never stop",
    "E0502" => "SLA clock can never stop",
    "E0503" => "pause state outside the clock's span",
    "E0504" => "SLA targets do not cover every value",
    "E0505" => "threshold or target out of range",
    "E0506" => "warn thresholds are not increasing",
    "E0507" => "SLA is incomplete",
    "E0508" => "duration has no fixed length",
    "E0509" => "unknown time zone",
    "E0510" => "calendar has invalid working hours",
    "E0511" => "business time without a calendar",
    "E0512" => "SLA target field may be unset when the clock starts",
    // approvals and duties
    "E0601" => "impossible quorum",
    "E0602" => "approval has no rejected path",
    "E0603" => "approval is incomplete",
    "E0604" => "approval can be bypassed",
    "E0605" => "preapproved transition before any approval",
    "W0601" => "requester may approve their own request",
    // coverage claims
    "E0701" => "unknown clause",
    "E0702" => "unknown standard",
    "E0703" => "unknown obligation",
    "E0704" => "obligation cannot be attested",
    "W0701" => "claimed clause has unmet obligations",
}

pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    let wanted = code.trim().to_ascii_uppercase();
    CODES.iter().find(|c| c.code == wanted)
}
