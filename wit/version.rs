// Included by the host's and the SDK's build scripts (`include!`): the WIT
// package version is written once, in econ-plugins.wit beside this file, and
// both read it from there as ECON_WIT_VERSION.
fn emit_wit_version(wit_file: &str) {
    println!("cargo:rerun-if-changed={wit_file}");
    let text = std::fs::read_to_string(wit_file).expect("reading wit/econ-plugins.wit");
    let version = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("package econ:plugins@"))
        .and_then(|rest| rest.strip_suffix(';'))
        .expect("wit/econ-plugins.wit: no `package econ:plugins@X.Y.Z;` line");
    println!("cargo:rustc-env=ECON_WIT_VERSION={version}");
}
