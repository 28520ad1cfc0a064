//! The plugin interface as a package authors depend on: `econ:plugins`
//! encoded as a WebAssembly WIT package (the binary form `wkg wit build`
//! writes), pushed to an OCI registry in the same layout as a plugin under
//! a tag equal to its version, and fetched back into a project's `wit/`
//! folder as text (`plugins wit publish` / `plugins wit fetch`, and
//! `plugins new --wit`).
//!
//! A fetched package is believed only after it decodes as a WIT package
//! named `econ:plugins` in a version this host serves: a registry that
//! answers with something else is refused before any file is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use wit_component::{DecodedWasm, WitPrinter};
use wit_parser::{PackageId, Resolve};

use super::oci::{self, OciRef, artifact, reference::Reference};
use crate::plugins::{SUPPORTED_WIT, WIT_PACKAGE};

/// The file a project's `wit/` folder holds the package in.
pub const FILE_NAME: &str = "econ-plugins.wit";

/// Largest encoded package fetched (0.2.0 encodes to a few KiB).
const MAX_PACKAGE_BYTES: u64 = 1 << 20;

/// The package texts this host holds: the one new plugins are built
/// against and each frozen earlier version (`wit/since_v*`).
const HELD: [&str; 2] = [
    crate::plugins::WIT_TEXT,
    include_str!("../../../wit/since_v0.1.0/econ-plugins.wit"),
];

/// One version of the package, as WIT text.
#[derive(Clone, Debug)]
pub struct WitPackage {
    pub version: String,
    pub text: String,
}

/// The versions this host can publish, newest first.
pub fn held_versions() -> Vec<String> {
    HELD.iter()
        .map(|text| parse(text).map(|(resolve, pkg)| version_of(&resolve, pkg)))
        .collect::<Result<_>>()
        .expect("the WIT texts built into this host parse")
}

/// The held package of `version`, as text.
pub fn held(version: &str) -> Option<WitPackage> {
    HELD.iter()
        .zip(held_versions())
        .find(|(_, v)| v == version)
        .map(|(text, v)| WitPackage {
            version: v,
            text: text.to_string(),
        })
}

/// The binary WIT package of `text` (what `wkg wit build` writes).
pub fn encode(text: &str) -> Result<Vec<u8>> {
    let (resolve, pkg) = parse(text)?;
    wit_component::encode(&resolve, pkg).context("encoding the WIT package")
}

/// The package in `bytes`, as WIT text with its doc comments, if it is
/// `econ:plugins` in a version this host serves.
pub fn decode(bytes: &[u8]) -> Result<WitPackage> {
    let decoded = wit_component::decode(bytes).context("not a WebAssembly WIT package")?;
    let (resolve, pkg) = match decoded {
        DecodedWasm::WitPackage(resolve, pkg) => (resolve, pkg),
        DecodedWasm::Component(..) => {
            bail!("a component (a plugin?), not a WIT package")
        }
    };
    let name = &resolve.packages[pkg].name;
    if format!("{}:{}", name.namespace, name.name) != WIT_PACKAGE {
        bail!("it holds the WIT package {name}, not {WIT_PACKAGE}");
    }
    let version = version_of(&resolve, pkg);
    if !crate::plugins::serves_wit(&version) {
        bail!("it holds {name}; this host serves {WIT_PACKAGE} {SUPPORTED_WIT}");
    }
    let mut printer = WitPrinter::default();
    printer
        .print(&resolve, pkg, &[])
        .context("printing the WIT package")?;
    Ok(WitPackage {
        version,
        text: printer.output.to_string(),
    })
}

/// Push the held package whose version is `target`'s tag.
pub fn publish(target: &OciRef) -> Result<(OciRef, WitPackage, u64)> {
    let held_list = held_versions().join(", ");
    let Reference::Tag(tag) = &target.reference else {
        bail!("{target}: publish to a tag, the package's version ({held_list})");
    };
    let package = held(tag).ok_or_else(|| {
        anyhow!(
            "{target}: the tag is the version published; this host holds {WIT_PACKAGE} \
             {held_list}"
        )
    })?;
    let bytes = encode(&package.text)?;
    let size = bytes.len() as u64;
    let description = artifact::Description {
        name: WIT_PACKAGE.to_string(),
        version: package.version.clone(),
        description: "the econ-host plugin interface (WIT package)".into(),
        author: String::new(),
        world: format!("{WIT_PACKAGE}@{}", package.version),
        imports: Vec::new(),
        exports: Vec::new(),
        created: crate::runlog::provenance::now_utc(),
    };
    let built = artifact::build(bytes, &description);
    let digest = oci::push(target, &built).with_context(|| format!("publishing to {target}"))?;
    Ok((target.pinned(&digest), package, size))
}

/// The package at `source`, digest-checked and decoded, and the reference
/// pinned by its manifest's digest. A version this host holds must be that
/// very package (a registry may not change a published version under its
/// name), and a tag that is a version must be the package's.
pub fn fetch(source: &OciRef) -> Result<(WitPackage, OciRef)> {
    oci::pull_layer(source, MAX_PACKAGE_BYTES, "WIT package")
        .and_then(|(bytes, pinned)| {
            let package = decode(&bytes)?;
            if let Reference::Tag(tag) = &source.reference
                && is_version(tag)
                && *tag != package.version
            {
                bail!(
                    "the tag {tag} holds {WIT_PACKAGE}@{}: a tag that is a version must be the \
                     package's",
                    package.version
                );
            }
            if let Some(held) = held(&package.version) {
                let ours = decode(&encode(&held.text)?)?;
                if ours.text != package.text {
                    bail!(
                        "it holds an {WIT_PACKAGE}@{} that differs from the one this host \
                         serves under that version: refused",
                        package.version
                    );
                }
            }
            Ok((package, pinned))
        })
        .with_context(|| format!("fetching the WIT package from {source}"))
}

/// The project file of `package`: WIT text headed by where it came from
/// (`pinned`) and how to refresh it into `dir` (from `source`, the
/// reference as given, so that a tag picks up what it names later).
pub fn file_text(package: &WitPackage, source: &OciRef, pinned: &OciRef, dir: &Path) -> String {
    format!(
        "// {WIT_PACKAGE}@{} from {pinned}.\n\
         // Refresh: econ-host plugins wit fetch {source} --out {}\n\n{}",
        package.version,
        dir.display(),
        package.text
    )
}

/// Write `package` as `dir/econ-plugins.wit`; the file written.
pub fn write_into(
    dir: &Path,
    package: &WitPackage,
    source: &OciRef,
    pinned: &OciRef,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(FILE_NAME);
    let text = file_text(package, source, pinned, dir);
    crate::atomic::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// `MAJOR.MINOR.PATCH` (a tag that names a version).
fn is_version(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse(text: &str) -> Result<(Resolve, PackageId)> {
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_str(FILE_NAME, text)
        .context("parsing the WIT package")?;
    Ok((resolve, pkg))
}

fn version_of(resolve: &Resolve, pkg: PackageId) -> String {
    resolve.packages[pkg]
        .name
        .version
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_held_version_survives_encoding_with_its_docs() {
        let versions = held_versions();
        assert_eq!(versions[0], crate::plugins::WIT_VERSION);
        assert!(versions.contains(&"0.1.0".to_string()));
        for v in &versions {
            let package = held(v).unwrap();
            let back = decode(&encode(&package.text).unwrap()).unwrap();
            assert_eq!(&back.version, v);
            // The decoded text parses again and keeps the worlds and the docs.
            let (resolve, pkg) = parse(&back.text).unwrap();
            let worlds: Vec<&str> = resolve.packages[pkg]
                .worlds
                .keys()
                .map(String::as_str)
                .collect();
            for world in [
                "reward",
                "dataset-adapter",
                "prompt-template",
                "answer-parser",
            ] {
                assert!(worlds.contains(&world), "{v}: {worlds:?}");
            }
            assert!(back.text.contains("/// The manifest every plugin carries"));
        }
    }

    #[test]
    fn another_package_a_version_not_served_or_garbage_is_refused() {
        let other = "package acme:tools@1.0.0;\ninterface x { f: func(); }\n";
        let err = decode(&encode(other).unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("acme:tools@1.0.0, not econ:plugins"));
        let future = held(crate::plugins::WIT_VERSION)
            .unwrap()
            .text
            .replace("package econ:plugins@0.2.0;", "package econ:plugins@0.9.0;");
        let err = decode(&encode(&future).unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("this host serves"), "{err:#}");
        assert!(decode(b"\0asm not really").is_err());
        assert!(is_version("0.2.0") && !is_version("latest") && !is_version("0.2"));
    }
}
