//! `econ-host plugins new KIND NAME`: a ready plugin crate from the templates
//! in `scaffold/` — Cargo.toml, src/lib.rs with the kind's functions filled
//! with a small working example, unit tests, a README and a .gitignore; with
//! `--lang python|js` a componentize-py or componentize-js project instead
//! ([`languages`]).
//!
//! The crate depends on the SDK by path (no git, no registry): `--sdk PATH`,
//! else the `plugins/sdk` of the repository this binary was built from (its
//! WIT matches this host's), else one found above the current folder. When
//! none is found the dependency is written commented out with a TODO, and the
//! caller is told to fix it. The crate has its own `[workspace]`, so it builds
//! anywhere, even inside another workspace's folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::plugins::{PluginKind, WIT_VERSION, is_plugin_name};

mod languages;
pub use languages::{COMPONENTIZE_JS, COMPONENTIZE_PY, Lang, ProjectWit};

const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.tmpl");
const README: &str = include_str!("scaffold/README.md.tmpl");
const GITIGNORE: &str = include_str!("scaffold/gitignore.tmpl");
const REWARD: &str = include_str!("scaffold/reward.rs.tmpl");
const DATASET_ADAPTER: &str = include_str!("scaffold/dataset-adapter.rs.tmpl");
const PROMPT_TEMPLATE: &str = include_str!("scaffold/prompt-template.rs.tmpl");
const ANSWER_PARSER: &str = include_str!("scaffold/answer-parser.rs.tmpl");

/// The SDK's package name, checked in a candidate folder's Cargo.toml.
const SDK_PACKAGE: &str = "econ-plugin-sdk";

/// Names Cargo or rustc refuse (or that shadow the standard crates).
const RESERVED: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "proc-macro",
    "test",
    "self",
    "super",
    "crate",
];

/// Where the SDK dependency comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sdk {
    /// `--sdk PATH`.
    Given(PathBuf),
    /// The repository this binary was built from, or one above the current folder.
    Found(PathBuf),
    /// None found: Cargo.toml carries a TODO.
    Missing,
}

impl Sdk {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Sdk::Given(p) | Sdk::Found(p) => Some(p),
            Sdk::Missing => None,
        }
    }
}

/// Why a name cannot be a scaffolded crate, if it cannot.
pub fn check_name(name: &str) -> Result<()> {
    if !is_plugin_name(name) {
        bail!(
            "{name:?} is not a valid plugin name (lowercase letters, digits, '-', '_'; \
             1-64 characters)"
        );
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("{name:?}: a crate name must start with a letter");
    }
    if RESERVED.contains(&name) {
        bail!("{name:?} is reserved by Rust; choose another name");
    }
    Ok(())
}

/// `--sdk PATH` checked, else the first SDK found (see the module docs).
pub fn find_sdk(given: Option<&Path>) -> Result<Sdk> {
    if let Some(path) = given {
        let path = path
            .canonicalize()
            .with_context(|| format!("--sdk {}", path.display()))?;
        if !is_sdk(&path) {
            bail!(
                "--sdk {}: no {SDK_PACKAGE} crate there (its Cargo.toml must name \
                 package {SDK_PACKAGE}); point it at econ-host's plugins/sdk",
                path.display()
            );
        }
        return Ok(Sdk::Given(path));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk");
    let here = std::env::current_dir().ok();
    let above_here = here
        .iter()
        .flat_map(|d| d.ancestors())
        .map(|d| d.join("plugins/sdk"));
    for candidate in std::iter::once(built_from).chain(above_here) {
        if is_sdk(&candidate)
            && let Ok(path) = candidate.canonicalize()
        {
            return Ok(Sdk::Found(path));
        }
    }
    Ok(Sdk::Missing)
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| {
        t.lines()
            .any(|l| l.replace(' ', "") == format!("name=\"{SDK_PACKAGE}\""))
    })
}

/// What the example of each kind does, in every language.
fn description(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Reward => "TS, AL and CC per executor",
        PluginKind::DatasetAdapter => "rows with question / answer fields (names from options)",
        PluginKind::PromptTemplate => {
            "coordinator-strategy, executor and coordinator-commitment prompts"
        }
        PluginKind::AnswerParser => "the last boxed answer or the last number; numeric equivalence",
    }
}

/// The files of a new project in `lang`, as (path, contents, executable).
pub fn render_lang(
    lang: Lang,
    kind: PluginKind,
    name: &str,
    sdk: &Sdk,
    wit: &ProjectWit,
) -> Vec<(PathBuf, String, bool)> {
    match lang {
        // A Rust crate takes the WIT from econ-plugin-sdk.
        Lang::Rust => render(kind, name, sdk)
            .into_iter()
            .map(|(p, t)| (p, t, false))
            .collect(),
        other => languages::render(other, kind, name, description(kind), wit),
    }
}

/// The files of a new crate, as (path relative to the crate, contents).
// Long on purpose: the files of a new plugin crate, each template next to its path.
pub fn render(kind: PluginKind, name: &str, sdk: &Sdk) -> Vec<(PathBuf, String)> {
    let description = description(kind);
    let lib = match kind {
        PluginKind::Reward => REWARD,
        PluginKind::DatasetAdapter => DATASET_ADAPTER,
        PluginKind::PromptTemplate => PROMPT_TEMPLATE,
        PluginKind::AnswerParser => ANSWER_PARSER,
    };
    let sdk_dependency = match sdk.path() {
        Some(path) => format!(
            "econ-plugin-sdk = {{ path = {} }}",
            toml::Value::String(path.display().to_string())
        ),
        None => format!(
            "# TODO: point this at the plugins/sdk folder of an econ-host checkout\n\
             # (the one the econ-host you run was built from, for the same WIT\n\
             # {}), or run `econ-host plugins new --sdk PATH ...` again.\n\
             # econ-plugin-sdk = {{ path = \"/path/to/econ-host/plugins/sdk\" }}",
            crate::plugins::WIT_PACKAGE.to_string() + "@" + WIT_VERSION
        ),
    };
    let fill = |template: &str| {
        template
            .replace("{{sdk_dependency}}", &sdk_dependency)
            .replace("{{description}}", description)
            .replace("{{crate_name}}", &name.replace('-', "_"))
            .replace("{{kind}}", kind.world())
            .replace("{{wit_version}}", WIT_VERSION)
            .replace("{{name}}", name)
    };
    // Descriptions are plain text: valid inside a Rust and a TOML string.
    let cargo_toml = fill(CARGO_TOML);
    vec![
        (PathBuf::from("Cargo.toml"), cargo_toml),
        (PathBuf::from("src/lib.rs"), fill(lib)),
        (PathBuf::from("README.md"), fill(README)),
        (PathBuf::from(".gitignore"), fill(GITIGNORE)),
    ]
}

/// Write a new project for `name` into `parent/name`; refuses an existing
/// path. The project is written beside its final place and renamed in one
/// step, so a failure leaves nothing half-written.
/// A valid name whose folder under `parent` does not exist yet.
pub fn check_new(parent: &Path, name: &str) -> Result<()> {
    check_name(name)?;
    let dest = parent.join(name);
    if dest.exists() || dest.is_symlink() {
        bail!(
            "{} already exists; choose another name or --dir (nothing was written)",
            dest.display()
        );
    }
    Ok(())
}

pub fn create(
    parent: &Path,
    lang: Lang,
    kind: PluginKind,
    name: &str,
    sdk: &Sdk,
    wit: &ProjectWit,
) -> Result<PathBuf> {
    check_new(parent, name)?;
    let dest = parent.join(name);
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".{name}.new-{}", std::process::id()));
    let written = (|| -> Result<()> {
        for (file, text, executable) in render_lang(lang, kind, name, sdk, wit) {
            let path = tmp.join(&file);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        std::fs::rename(&tmp, &dest)
            .map_err(|e| anyhow!("moving {} to {}: {e}", tmp.display(), dest.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("my-reward").is_ok());
        assert!(check_name("parser_2").is_ok());
        assert!(check_name("2-parser").is_err());
        assert!(check_name("My Reward").is_err());
        assert!(check_name("test").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn every_kind_renders_without_leftover_placeholders() {
        let sdk = Sdk::Given(PathBuf::from("/x/plugins/sdk"));
        for kind in PluginKind::ALL {
            let files = render(kind, "my-plugin", &sdk);
            for (path, text) in &files {
                assert!(!text.contains("{{name"), "{path:?}");
                assert!(!text.contains("{{sdk"), "{path:?}");
                assert!(!text.contains("{{kind"), "{path:?}");
            }
            let cargo: toml::Table = files[0].1.parse().unwrap();
            assert_eq!(cargo["package"]["name"].as_str(), Some("my-plugin"));
            assert_eq!(
                cargo["dependencies"]["econ-plugin-sdk"]["path"].as_str(),
                Some("/x/plugins/sdk")
            );
            assert!(cargo.contains_key("workspace"));
            assert!(files[1].1.contains("\"my-plugin\""));
        }
        let missing = render(PluginKind::Reward, "r", &Sdk::Missing);
        assert!(missing[0].1.contains("TODO"));
        let cargo: toml::Table = missing[0].1.parse().unwrap();
        assert!(
            !cargo.contains_key("dependencies")
                || cargo["dependencies"].as_table().unwrap().is_empty()
        );
    }

    #[test]
    fn the_sdk_of_this_repository_is_found() {
        let sdk = find_sdk(None).unwrap();
        assert!(matches!(sdk, Sdk::Found(_)), "{sdk:?}");
        assert!(find_sdk(Some(Path::new("/"))).is_err());
    }
}
