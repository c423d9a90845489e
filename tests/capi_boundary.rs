//! Every `extern "C"` export must run its body inside the panic boundary
//! (`guard` or `guard_value` in src/capi/boundary.rs): a source-level check,
//! so that a new export cannot forget it.

use std::path::Path;

#[test]
fn every_export_goes_through_the_panic_boundary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capi");
    let mut exports = 0;
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let mut rest = source.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // The body: from the first "{" after the signature to the closing
            // brace at the start of a line.
            let body_start = after.find(") ").map(|i| i + after[i..].find('{').unwrap()).unwrap();
            let body_end = body_start + after[body_start..].find("\n}").unwrap();
            let body = &after[body_start..body_end];
            let first_statement = body.trim_start_matches('{').trim_start();
            if !(first_statement.starts_with("guard(") || first_statement.starts_with("guard_value(")) {
                missing.push(format!("{}: {name}", path.display()));
            }
            exports += 1;
            rest = &after[body_end..];
        }
    }
    assert!(exports >= 10, "found only {exports} exports: is the scan broken?");
    assert!(missing.is_empty(), "exports outside the panic boundary: {missing:#?}");
}
