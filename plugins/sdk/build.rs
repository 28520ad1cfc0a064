include!("../../wit/version.rs");

// WIT_PACKAGE is read from the file the bindings are generated from.
fn main() {
    emit_wit_version(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../wit/econ-plugins.wit"
    ));
}
