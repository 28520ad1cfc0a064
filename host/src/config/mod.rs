//! The run configuration: a TOML file, `--set key=value` overrides, and
//! validation whose errors name the file and the key.
//!
//! One section a file, each validating its own keys with errors that name
//! them (`key K: ...`): [`llm`] (roles), [`dataset`], [`plugins`],
//! [`embedding`], [`env`], [`runner`], [`early_stopping`], [`baselines`]
//! (comparison modes), [`budget`], [`sim`]; [`http`] validates what every
//! section that talks to a server shares. The networks' and learner's
//! sections (`[arch]`, `[sampling]`, `[bne]`, `[train]`, `[mixer]`, `[loss]`,
//! `[reward]`) belong to [`crate::nets::config`], which validates them.

mod baselines;
mod budget;
mod dataset;
mod early_stopping;
mod embedding;
mod env;
mod http;
mod llm;
mod plugins;
mod runner;
mod sim;
mod unknown_key;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use baselines::BaselinesConfig;
pub use budget::BudgetConfig;
pub use dataset::DatasetConfig;
pub use early_stopping::EarlyStoppingConfig;
pub use embedding::EmbeddingConfig;
pub use env::EnvConfig;
pub use llm::{CacheConfig, LlmConfig, OPENAI_API_KEY_ENV, OPENAI_BASE_URL_ENV, RoleConfig};
pub use plugins::{OptionValue, PluginLimits, PluginsConfig};
pub use runner::RunnerConfig;
pub use sim::{KindConfig, SimConfig};

use crate::nets::config::NetsConfig;

/// A whole run: the keys the runner reads (`seed`, `[llm]`, `[dataset]`,
/// `[plugins]`) and, at the top level beside them, every key of the networks
/// and the learner named as in the paper (`n_agents`, `belief_dim`,
/// `[sampling]`, `[bne]`, `[train]`, `[mixer]`, `[loss]`, `[reward]`, ...).
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub seed: u64,
    pub llm: LlmConfig,
    pub dataset: DatasetConfig,
    pub plugins: PluginsConfig,
    pub embedding: EmbeddingConfig,
    pub env: EnvConfig,
    pub runner: RunnerConfig,
    pub early_stopping: EarlyStoppingConfig,
    pub baselines: BaselinesConfig,
    /// The simulated world (`provider = "sim"`).
    pub sim: SimConfig,
    /// Limits on what a job may spend on LLM calls.
    pub budget: BudgetConfig,
    #[serde(flatten)]
    pub nets: NetsConfig,
    /// Folder the config file is in; relative paths in it resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The runner's own keys; everything else in the file belongs to [`NetsConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunKeys {
    #[serde(default = "default_seed")]
    seed: u64,
    llm: LlmConfig,
    dataset: DatasetConfig,
    #[serde(default)]
    plugins: PluginsConfig,
    #[serde(default)]
    embedding: EmbeddingConfig,
    #[serde(default)]
    env: EnvConfig,
    #[serde(default)]
    runner: RunnerConfig,
    #[serde(default)]
    early_stopping: EarlyStoppingConfig,
    #[serde(default)]
    baselines: BaselinesConfig,
    #[serde(default)]
    sim: SimConfig,
    #[serde(default)]
    budget: BudgetConfig,
}

impl RunKeys {
    const KEYS: [&str; 11] = [
        "seed",
        "llm",
        "dataset",
        "plugins",
        "embedding",
        "env",
        "runner",
        "early_stopping",
        "baselines",
        "sim",
        "budget",
    ];
}

fn default_seed() -> u64 {
    42
}

impl Config {
    /// Read `path`, apply `overrides` ("a.b=value"), validate.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let mut value: toml::Table =
            toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
        for item in overrides {
            apply_override(&mut value, item)
                .with_context(|| format!("--set {item} (config {})", path.display()))?;
        }
        let mut run = toml::Table::new();
        for key in RunKeys::KEYS {
            if let Some(v) = value.remove(key) {
                run.insert(key.to_string(), v);
            }
        }
        // A key the file is fine without is the --set's fault: say so.
        let whose = || -> String {
            let file_alone = overrides.is_empty() || Config::load(path, &[]).is_ok();
            if file_alone && !overrides.is_empty() {
                let sets: Vec<String> = overrides.iter().map(|o| format!("--set {o}")).collect();
                format!("{} (config {})", sets.join(" "), path.display())
            } else {
                format!("config {}", path.display())
            }
        };
        let run: RunKeys = run
            .try_into()
            .map_err(|e| unknown_key::explain(e, &text))
            .with_context(whose)?;
        let nets: NetsConfig = value
            .try_into()
            .map_err(|e| unknown_key::explain(e, &text))
            .with_context(whose)?;
        let mut llm = run.llm;
        for role in [&mut llm.coordinator, &mut llm.executor] {
            role.openai_defaults(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
        }
        let config = Config {
            seed: run.seed,
            llm,
            dataset: run.dataset,
            plugins: run.plugins,
            embedding: run.embedding,
            env: run.env,
            runner: run.runner,
            early_stopping: run.early_stopping,
            baselines: run.baselines,
            sim: run.sim,
            budget: run.budget,
            nets,
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        config
            .validate()
            .with_context(|| format!("config {}", path.display()))?;
        Ok(config)
    }

    /// Each config key that names a plugin, with the plugin it names.
    pub fn plugin_keys(&self) -> [(&'static str, &str); 4] {
        [
            ("plugins.prompts", self.plugins.prompts.as_str()),
            ("plugins.parser", self.plugins.parser.as_str()),
            ("plugins.reward", self.plugins.reward.as_str()),
            ("dataset.adapter", self.dataset.adapter.as_str()),
        ]
    }

    /// A path from the config, resolved against the config file's folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Each section validates its own keys; errors name the key.
    fn validate(&self) -> Result<()> {
        self.nets.validate()?;
        self.plugins.validate()?;
        self.embedding.validate()?;
        self.env.validate()?;
        self.runner.validate()?;
        self.budget.validate()?;
        self.early_stopping.validate()?;
        self.baselines.validate()?;
        self.llm.validate()?;
        self.dataset.validate()?;
        self.sim.validate()?;
        Ok(())
    }
}

/// The learner and episode settings of a config file as `--set` overrides,
/// so that another config's world can run with them (a sweep's arm
/// `NAME@FILE`): every network and learner key but the shapes that belong to
/// the world (`n_agents`, and the embedder's `obs_dim`, `commitment_embedding_dim`),
/// the exploration keys of `[sampling]` (its bounds are the world's), the
/// strategy budget of `[env]` and `[plugins.options]`.
pub fn learner_overrides(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    const WORLD: [&str; 4] = ["seed", "n_agents", "obs_dim", "commitment_embedding_dim"];
    const SECTIONS: [&str; 6] = ["arch", "bne", "train", "mixer", "loss", "reward"];
    let mut out = Vec::new();
    let flat = |prefix: &str, t: &toml::Table, only: Option<&[&str]>| -> Vec<String> {
        t.iter()
            .filter(|(k, v)| only.is_none_or(|keys| keys.contains(&k.as_str())) && !v.is_table())
            .map(|(k, v)| format!("{prefix}{k}={v}"))
            .collect()
    };
    for (key, value) in &table {
        match value {
            toml::Value::Table(t) if SECTIONS.contains(&key.as_str()) => {
                out.extend(flat(&format!("{key}."), t, None))
            }
            toml::Value::Table(t) if key == "sampling" => out.extend(flat(
                "sampling.",
                t,
                Some(&["exploration_std", "exploration_epsilon"]),
            )),
            toml::Value::Table(t) if key == "env" => {
                out.extend(flat("env.", t, Some(&["strategy_max_tokens"])))
            }
            toml::Value::Table(t) if key == "plugins" => {
                if let Some(toml::Value::Table(options)) = t.get("options") {
                    for (plugin, o) in options {
                        if let toml::Value::Table(o) = o {
                            out.extend(flat(&format!("plugins.options.{plugin}."), o, None));
                        }
                    }
                }
            }
            toml::Value::Table(_) => {}
            _ if WORLD.contains(&key.as_str()) || RunKeys::KEYS.contains(&key.as_str()) => {}
            v => out.push(format!("{key}={v}")),
        }
    }
    Ok(out)
}

/// `a.b.c=value`: the value is read as TOML (number, bool, array, quoted
/// string) and otherwise taken as a bare string.
fn apply_override(root: &mut toml::Table, item: &str) -> Result<()> {
    let Some((key, raw)) = item.split_once('=') else {
        bail!("expected key=value");
    };
    let key = key.trim();
    // One value: anything after it (a newline and a table header smuggled
    // into the value) is refused, not dropped.
    if raw.contains(['\n', '\r']) {
        bail!("the value must be one line (one TOML value)");
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) if t.len() == 1 => t.remove("v").expect("the one key"),
        Ok(_) => bail!("the value must be one TOML value"),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        bail!("key {key:?} has an empty part");
    }
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => bail!("key {key}: {part} is not a table"),
        };
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Limits;

    #[test]
    fn openai_roles_take_the_sdk_environment_variables_as_defaults() {
        let mut role: RoleConfig = toml::from_str("provider = \"openai\"\nmodel = \"m\"").unwrap();
        let env = |var: &str| match var {
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1".to_string()),
            "OPENAI_API_KEY" => Some("sk-secret".to_string()),
            _ => None,
        };
        role.openai_defaults(env);
        assert_eq!(role.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        // The variable's name, never the key.
        assert_eq!(role.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
        role.validate("executor").unwrap();
        // What a config sets wins.
        let mut set: RoleConfig = toml::from_str(
            "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://h/v1\"\napi_key_env = \"MY_KEY\"",
        )
        .unwrap();
        set.openai_defaults(env);
        assert_eq!(set.base_url.as_deref(), Some("http://h/v1"));
        assert_eq!(set.api_key_env.as_deref(), Some("MY_KEY"));
        // Local roles are left alone; without the variables nothing is set.
        let mut local: RoleConfig = toml::from_str("provider = \"local\"\nmodel = \"m\"").unwrap();
        local.openai_defaults(env);
        assert!(local.base_url.is_none() && local.api_key_env.is_none());
        let mut bare: RoleConfig = toml::from_str("provider = \"openai\"\nmodel = \"m\"").unwrap();
        bare.openai_defaults(|_| None);
        assert!(
            bare.validate("executor")
                .unwrap_err()
                .to_string()
                .contains("OPENAI_BASE_URL")
        );
    }

    #[test]
    fn overrides_set_nested_typed_values() {
        let mut t: toml::Table = toml::from_str("[a]\nb = 1").unwrap();
        apply_override(&mut t, "a.b=2").unwrap();
        apply_override(&mut t, "a.c=hello").unwrap();
        apply_override(&mut t, "d.e=true").unwrap();
        assert_eq!(t["a"]["b"].as_integer(), Some(2));
        assert_eq!(t["a"]["c"].as_str(), Some("hello"));
        assert_eq!(t["d"]["e"].as_bool(), Some(true));
        assert!(apply_override(&mut t, "a.b.c=1").is_err());
        assert!(apply_override(&mut t, "novalue").is_err());
        // Text after the value is refused, not dropped.
        let smuggled = "seed=1\n[llm.executor]\nbase_url=\"http://evil\"";
        assert!(apply_override(&mut t, smuggled).is_err());
        assert!(apply_override(&mut t, "x=1 y=2").is_ok_and(|_| t["x"].is_str()));
    }

    #[test]
    fn a_bad_key_from_set_is_blamed_on_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let e = error(dir.path(), &["bne.max_iteration_train=2"]);
        assert!(e.contains("--set bne.max_iteration_train=2"), "{e}");
        assert!(e.contains("max_iteration_train"), "{e}");
    }

    fn load_with(dir: &Path, overrides: &[&str]) -> Result<Config> {
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "[llm.coordinator]\nprovider = \"local\"\nmodel = \"m\"\n\
             [llm.executor]\nprovider = \"local\"\nmodel = \"m\"\n\
             [dataset]\nadapter = \"a\"\npath = \"d.jsonl\"\n",
        )
        .unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::load(&path, &overrides)
    }

    fn error(dir: &Path, overrides: &[&str]) -> String {
        format!("{:#}", load_with(dir, overrides).unwrap_err())
    }

    #[test]
    fn plugin_options_become_text_for_their_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(
            dir.path(),
            &[
                "plugins.options.reward-econ.fidelity_share=1.0",
                "plugins.options.my-parser.digits=3",
                "plugins.options.my-parser.strict=true",
                "plugins.options.prompts-econ.system=Be brief, and careful.",
            ],
        )
        .unwrap();
        let policy = c.plugins.policy();
        let text = |name: &str| policy.options_for(name);
        assert_eq!(
            text("reward-econ"),
            [("fidelity_share".into(), "1.0".into())]
        );
        assert_eq!(
            text("my-parser"),
            [
                ("digits".to_string(), "3".to_string()),
                ("strict".to_string(), "true".to_string())
            ]
        );
        assert_eq!(text("prompts-econ")[0].1, "Be brief, and careful.");
        assert!(text("anyone-else").is_empty());

        let e = error(dir.path(), &["plugins.options.Bad_Name.x=1"]);
        assert!(e.contains("plugins.options.Bad_Name"), "{e}");
        let e = error(dir.path(), &["plugins.options.p.x=[1, 2]"]);
        assert!(e.contains("options"), "{e}");
    }

    #[test]
    fn plugin_limits_default_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(
            dir.path(),
            &[
                "plugins.memory_mib=64",
                "plugins.limits.py-reward.memory_mib=1024",
                "plugins.limits.slow-parser.fuel=9000000000",
            ],
        )
        .unwrap();
        let policy = c.plugins.policy();
        assert_eq!(policy.default.memory_bytes, 64 << 20);
        assert_eq!(policy.default.fuel, Limits::default().fuel);
        let py = policy.for_plugin("py-reward");
        assert_eq!(py.memory_bytes, 1024 << 20);
        assert_eq!(py.fuel, Limits::default().fuel);
        let slow = policy.for_plugin("slow-parser");
        assert_eq!((slow.memory_bytes, slow.fuel), (64 << 20, 9_000_000_000));
        assert_eq!(policy.for_plugin("anyone-else"), policy.default);
        // meta() runs before the name is known: the roomiest of all.
        let meta = policy.for_meta();
        assert_eq!((meta.memory_bytes, meta.fuel), (1024 << 20, 9_000_000_000));

        let e = error(dir.path(), &["plugins.limits.py-reward.memory_mib=5000"]);
        assert!(
            e.contains("plugins.limits.py-reward.memory_mib: 5000"),
            "{e}"
        );
        let e = error(dir.path(), &["plugins.fuel=0"]);
        assert!(e.contains("plugins.fuel"), "{e}");
        let e = error(dir.path(), &["plugins.limits.x.memory=5"]);
        assert!(e.contains("memory"), "{e}");
    }

    #[test]
    fn paper_keys_sit_beside_the_runner_keys() {
        let dir = tempfile::tempdir().unwrap();
        let c = load_with(
            dir.path(),
            &[
                "n_agents=5",
                "bne.max_iterations_infer=2",
                "mixer.kind=attention",
            ],
        )
        .unwrap();
        assert_eq!(c.nets.n_agents, 5);
        assert_eq!(c.nets.bne.max_iterations_infer, 2);
        assert_eq!(c.nets.mixer.kind, "attention");
        let err = format!(
            "{:#}",
            load_with(dir.path(), &["belief_dimm=64"]).unwrap_err()
        );
        assert!(err.contains("belief_dimm"), "{err}");
        let err = format!(
            "{:#}",
            load_with(dir.path(), &["llm.threadz=2"]).unwrap_err()
        );
        assert!(err.contains("threadz"), "{err}");
    }

    #[test]
    fn shipped_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml")
                && path.file_name().unwrap() != "models.toml"
            {
                Config::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            }
        }
    }

    #[test]
    fn openai_roles_load_and_validate_with_named_keys() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let c = load_with(
            d,
            &[
                "llm.executor.provider=openai",
                "llm.executor.base_urls=[\"http://127.0.0.1:1/v1\", \"http://127.0.0.1:2/v1\"]",
                "llm.executor.api_key_env=MY_KEY",
                "llm.executor.concurrency=4",
                "llm.executor.timeout_s=2.5",
                "llm.executor.send_repetition_penalty=false",
                "llm.cache.mode=record",
                "llm.cache.path=cache.jsonl",
            ],
        )
        .unwrap();
        let e = &c.llm.executor;
        assert_eq!(e.endpoints().len(), 2);
        assert_eq!(e.concurrency, 4);
        assert_eq!(e.max_retries, 3);
        assert!(!e.send_repetition_penalty);
        assert_eq!(c.llm.cache.mode, "record");
        assert_eq!(load_with(d, &[]).unwrap().llm.cache.mode, "off");

        let open = "llm.executor.provider=openai";
        let url = "llm.executor.base_url=http://127.0.0.1:1/v1";
        for (overrides, expected) in [
            (
                vec!["llm.executor.provider=grpc"],
                "key llm.executor.provider",
            ),
            (vec![open], "key llm.executor.base_url: required"),
            (
                vec![open, "llm.executor.base_url=localhost:8000"],
                "key llm.executor.base_url:",
            ),
            (
                vec![
                    open,
                    "llm.executor.base_urls=[\"http://a/v1\", \"ftp://b\"]",
                ],
                "key llm.executor.base_urls[1]",
            ),
            (
                vec![open, url, "llm.executor.base_urls=[\"http://a/v1\"]"],
                "llm.executor.base_url and llm.executor.base_urls",
            ),
            (
                vec![open, url, "llm.executor.concurrency=0"],
                "key llm.executor.concurrency",
            ),
            (
                vec![open, url, "llm.executor.timeout_s=0"],
                "key llm.executor.timeout_s",
            ),
            (
                vec![open, url, "llm.executor.retry_backoff_ms=9000"],
                "llm.executor.retry_backoff_ms/retry_backoff_max_ms",
            ),
            (
                vec!["llm.coordinator.base_url=http://a/v1"],
                "key llm.coordinator.base_url: only used",
            ),
            (vec!["llm.cache.mode=replay"], "key llm.cache.path"),
            (vec!["llm.cache.mode=sometimes"], "key llm.cache.mode"),
        ] {
            let message = error(d, &overrides);
            assert!(message.contains(expected), "{overrides:?}: {message}");
        }
        // A key pasted where the variable name belongs is not echoed back.
        let message = error(d, &[open, url, "llm.executor.api_key_env=sk-abc.def-123"]);
        assert!(
            message.contains("key llm.executor.api_key_env"),
            "{message}"
        );
        assert!(!message.contains("sk-abc"), "{message}");
    }
}
