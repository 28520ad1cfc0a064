// The WIT package version is written once, in wit/econ-plugins.wit (the file
// the bindings are generated from); WIT_PACKAGE is read from there.
fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit/econ-plugins.wit");
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read_to_string(path).expect("reading wit/econ-plugins.wit");
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package econ:plugins@"))
        .and_then(|rest| rest.strip_suffix(';'))
        .expect("wit/econ-plugins.wit: no `package econ:plugins@X.Y.Z;` line");
    println!("cargo:rustc-env=ECON_WIT_VERSION={version}");
}
