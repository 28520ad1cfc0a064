//! `plugins new --lang python|js`: the same four kinds as the Rust crates, as
//! projects for componentize-py and componentize-js. Each holds the WIT this
//! host speaks (`wit/econ-plugins.wit`), the work in a plain module
//! (`logic.py` / `logic.js`) with tests that need no host and no WebAssembly
//! tool, the component's thin binding layer (`app.py` / `app.js`), and a
//! `build.sh` that fetches the pinned toolchain on first use and passes the
//! flags the host needs.

use std::path::PathBuf;

use crate::plugins::{PluginKind, WIT_TEXT, WIT_VERSION};

/// The language of a new plugin project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    pub const NAMES: [&str; 3] = ["rust", "python", "js"];

    pub fn parse(name: &str) -> Option<Lang> {
        match name {
            "rust" => Some(Lang::Rust),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::Js),
            _ => None,
        }
    }
}

/// The toolchain versions the projects pin (the ones this host is tested with).
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";

/// The WIT a Python or JavaScript project is built against: this host's
/// copy, or a package fetched from a registry (`plugins new --wit`).
#[derive(Clone, Debug)]
pub struct ProjectWit {
    /// The package version, e.g. "0.2.0": the worlds the build targets.
    pub version: String,
    /// `wit/econ-plugins.wit` as written into the project.
    pub file_text: String,
}

impl Default for ProjectWit {
    fn default() -> ProjectWit {
        ProjectWit {
            version: WIT_VERSION.to_string(),
            file_text: WIT_TEXT.to_string(),
        }
    }
}

macro_rules! kind_templates {
    ($dir:literal, $ext:literal) => {
        [
            (
                PluginKind::Reward,
                include_str!(concat!($dir, "/reward.logic.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/reward.app.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/reward.test.", $ext, ".tmpl")),
            ),
            (
                PluginKind::DatasetAdapter,
                include_str!(concat!($dir, "/dataset-adapter.logic.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/dataset-adapter.app.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/dataset-adapter.test.", $ext, ".tmpl")),
            ),
            (
                PluginKind::PromptTemplate,
                include_str!(concat!($dir, "/prompt-template.logic.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/prompt-template.app.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/prompt-template.test.", $ext, ".tmpl")),
            ),
            (
                PluginKind::AnswerParser,
                include_str!(concat!($dir, "/answer-parser.logic.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/answer-parser.app.", $ext, ".tmpl")),
                include_str!(concat!($dir, "/answer-parser.test.", $ext, ".tmpl")),
            ),
        ]
    };
}

const PYTHON: [(PluginKind, &str, &str, &str); 4] = kind_templates!("python", "py");
const JS: [(PluginKind, &str, &str, &str); 4] = kind_templates!("js", "js");

/// The files of a Python or JavaScript project, as (path, contents, executable).
pub fn render(
    lang: Lang,
    kind: PluginKind,
    name: &str,
    description: &str,
    wit: &ProjectWit,
) -> Vec<(PathBuf, String, bool)> {
    let fill = |template: &str| {
        template
            .replace("{{description}}", description)
            .replace("{{kind}}", kind.world())
            .replace("{{wit_version}}", &wit.version)
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
            .replace("{{componentize_js}}", COMPONENTIZE_JS)
            .replace("{{name}}", name)
    };
    let (table, ext, common): (_, _, &[(&str, &str, bool)]) = match lang {
        Lang::Python => (
            &PYTHON,
            "py",
            &[
                ("build.sh", include_str!("python/build.sh.tmpl"), true),
                ("README.md", include_str!("python/README.md.tmpl"), false),
                (".gitignore", include_str!("python/gitignore.tmpl"), false),
            ],
        ),
        Lang::Js => (
            &JS,
            "js",
            &[
                ("build.sh", include_str!("js/build.sh.tmpl"), true),
                ("README.md", include_str!("js/README.md.tmpl"), false),
                (".gitignore", include_str!("js/gitignore.tmpl"), false),
                ("package.json", include_str!("js/package.json.tmpl"), false),
            ],
        ),
        Lang::Rust => unreachable!("Rust crates come from scaffold::render"),
    };
    let (_, logic, app, test) = table
        .iter()
        .find(|(k, ..)| *k == kind)
        .expect("every kind has templates");
    let test_file = match lang {
        Lang::Python => "test_logic.py".to_string(),
        _ => "logic.test.js".to_string(),
    };
    let mut files = vec![
        (PathBuf::from(format!("logic.{ext}")), fill(logic), false),
        (PathBuf::from(format!("app.{ext}")), fill(app), false),
        (PathBuf::from(test_file), fill(test), false),
        (
            PathBuf::from("wit/econ-plugins.wit"),
            wit.file_text.clone(),
            false,
        ),
    ];
    files.extend(
        common
            .iter()
            .map(|(path, t, exec)| (PathBuf::from(path), fill(t), *exec)),
    );
    files
}

#[cfg(test)]
mod tests {
    use super::{Lang, ProjectWit, render};
    use crate::plugins::PluginKind;

    #[test]
    fn every_kind_renders_in_every_language_without_leftover_placeholders() {
        let wit = ProjectWit {
            version: "0.2.7".into(),
            file_text: "// fetched\npackage econ:plugins@0.2.7;\n".into(),
        };
        for lang in [Lang::Python, Lang::Js] {
            for kind in PluginKind::ALL {
                let files = render(lang, kind, "my-plugin", "does things", &wit);
                for (path, text, _) in &files {
                    assert!(!text.contains("{{"), "{lang:?} {kind} {path:?}");
                }
                let build = files.iter().find(|f| f.0.ends_with("build.sh")).unwrap();
                assert!(build.2, "build.sh is executable");
                assert!(build.1.contains(kind.world()), "{lang:?} {kind}");
                let app = &files[1].1;
                assert!(app.contains("logic"), "{lang:?} {kind}");
                // The project names the worlds of the WIT it holds.
                let readme = files.iter().find(|f| f.0.ends_with("README.md")).unwrap();
                assert!(readme.1.contains("@0.2.7"), "{lang:?} {kind}");
                let wit_file = files.iter().find(|f| f.0.ends_with("econ-plugins.wit"));
                assert_eq!(wit_file.unwrap().1, wit.file_text);
                if lang == Lang::Js {
                    assert!(build.1.contains("-d http -d fetch-event"));
                }
            }
        }
        assert_eq!(Lang::parse("python"), Some(Lang::Python));
        assert_eq!(Lang::parse("cobol"), None);
    }
}
