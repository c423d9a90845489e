//! The checked-in include/slotrt.h must be exactly what cbindgen generates
//! from src/capi today. Run with SLOTRT_BLESS=1 (scripts/gen_header.sh) to
//! rewrite it after changing the C API.

use std::path::Path;

#[test]
fn checked_in_header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        // Only the C surface: constants elsewhere in the crate are not ABI.
        .with_src(root.join("src/capi/mod.rs"))
        .generate()
        .expect("cbindgen failed to generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = root.join("include/slotrt.h");
    if std::env::var_os("SLOTRT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(checked_in == generated, "include/slotrt.h is stale: run scripts/gen_header.sh and commit the result");
}
