//! Plugin options: what a plugin declares it reads (`option-specs`, WIT 0.2)
//! and the check of the config's values against it.

use anyhow::{Result, bail};
use serde::Serialize;

use super::handles::PluginInfo;
use super::wit::WitLine;
use super::worlds::{PluginKind, reward};

/// One option a plugin reads, as `plugins list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredOption {
    pub name: String,
    /// "text", "number" or "boolean".
    pub kind: &'static str,
    /// What the plugin does without it, as text ("" if it says nothing).
    pub default: String,
    pub description: String,
}

impl From<reward::OptionSpec> for DeclaredOption {
    fn from(spec: reward::OptionSpec) -> Self {
        DeclaredOption {
            name: spec.name,
            kind: match spec.kind {
                reward::OptionKind::Text => "text",
                reward::OptionKind::Number => "number",
                reward::OptionKind::Boolean => "boolean",
            },
            default: spec.default,
            description: spec.description,
        }
    }
}

/// Refuse `options` (set under `key` in the config) that `plugin` does not
/// declare or whose value is not of the declared kind. A 0.1 plugin declares
/// nothing: a prompt template or adapter takes any (they had `vars` and
/// options in 0.1), a reward or parser takes none.
pub fn check_options(
    plugin: &PluginInfo,
    line: WitLine,
    options: &[(String, String)],
    key: &str,
) -> Result<()> {
    if options.is_empty() {
        return Ok(());
    }
    let who = plugin.id().to_string();
    if !line.has_options() {
        return match plugin.kind {
            PluginKind::PromptTemplate | PluginKind::DatasetAdapter => Ok(()),
            PluginKind::Reward | PluginKind::AnswerParser => bail!(
                "{key}: plugin {who} was built for econ:plugins@{}, whose {} takes no \
                 options; rebuild it against this host's wit/ (0.2) to give it options",
                plugin.wit_version,
                plugin.kind
            ),
        };
    }
    for (name, value) in options {
        let Some(spec) = plugin.options.iter().find(|o| &o.name == name) else {
            let declared: Vec<&str> = plugin.options.iter().map(|o| o.name.as_str()).collect();
            bail!(
                "{key}: plugin {who} has no option `{name}` (it declares {})",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            );
        };
        let fits = match spec.kind {
            "number" => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
            "boolean" => matches!(value.as_str(), "true" | "false"),
            _ => true,
        };
        if !fits {
            bail!(
                "{key}: option `{name}` of plugin {who} must be a {}, not {value:?}",
                spec.kind
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(kind: PluginKind, options: &[(&str, &'static str)]) -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            kind,
            version: "1.0.0".into(),
            wit_version: "0.2.0".into(),
            description: String::new(),
            author: String::new(),
            options: options
                .iter()
                .map(|(name, kind)| DeclaredOption {
                    name: name.to_string(),
                    kind,
                    default: String::new(),
                    description: String::new(),
                })
                .collect(),
            file: "p.wasm".into(),
            sha256: String::new(),
            source: ".".into(),
            cached: false,
        }
    }

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn declared_options_of_the_right_kind_pass() {
        let p = plugin(
            PluginKind::Reward,
            &[("share", "number"), ("strict", "boolean")],
        );
        let ok = set(&[("share", "0.5"), ("strict", "true")]);
        check_options(&p, WitLine::V0_2, &ok, "k").unwrap();
        let e = check_options(
            &p,
            WitLine::V0_2,
            &set(&[("shar", "1")]),
            "[plugins.options.p]",
        );
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("[plugins.options.p]") && e.contains("no option `shar`"),
            "{e}"
        );
        assert!(e.contains("share, strict"), "{e}");
        let e = check_options(&p, WitLine::V0_2, &set(&[("share", "half")]), "k").unwrap_err();
        assert!(e.to_string().contains("must be a number"), "{e}");
        let e = check_options(&p, WitLine::V0_2, &set(&[("strict", "1")]), "k").unwrap_err();
        assert!(e.to_string().contains("must be a boolean"), "{e}");
    }

    #[test]
    fn old_plugins_take_options_only_where_0_1_had_them() {
        let opts = set(&[("system", "Be brief.")]);
        check_options(
            &plugin(PluginKind::PromptTemplate, &[]),
            WitLine::V0_1,
            &opts,
            "k",
        )
        .unwrap();
        let e = check_options(&plugin(PluginKind::Reward, &[]), WitLine::V0_1, &opts, "k");
        assert!(e.unwrap_err().to_string().contains("takes no options"));
        check_options(&plugin(PluginKind::Reward, &[]), WitLine::V0_1, &[], "k").unwrap();
    }
}
