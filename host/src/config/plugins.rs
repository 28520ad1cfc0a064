//! `[plugins]`: which plugin plays each part, and the sandbox limits per plugin.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::plugins::{
    Limits, MAX_PLUGIN_DEADLINE_MS, MAX_PLUGIN_MEMORY_MIB, PluginPolicy, is_plugin_name,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    #[serde(default = "default_reward")]
    pub reward: String,
    #[serde(default = "default_prompts")]
    pub prompts: String,
    #[serde(default = "default_parser")]
    pub parser: String,
    /// Per call, every plugin: linear memory cap in MiB.
    #[serde(default = "default_plugin_memory_mib")]
    pub memory_mib: u64,
    /// Per call, every plugin: wasm fuel (about one unit per instruction).
    #[serde(default = "default_plugin_fuel")]
    pub fuel: u64,
    /// Failed calls in a row after which a plugin is disabled.
    #[serde(default = "default_plugin_failures")]
    pub max_consecutive_failures: u32,
    /// Per call, every plugin: wall-clock limit in milliseconds.
    #[serde(default = "default_plugin_deadline_ms")]
    pub deadline_ms: u64,
    /// `[plugins.limits.NAME]`: other limits for the plugin whose meta()
    /// name is NAME (e.g. a Python component that needs more memory).
    #[serde(default)]
    pub limits: BTreeMap<String, PluginLimits>,
    /// `[plugins.options.NAME]`: options given to the plugin whose meta()
    /// name is NAME on every call (strings, numbers, booleans); the plugin
    /// declares which it reads (`plugins list`), others are refused.
    #[serde(default)]
    pub options: BTreeMap<String, BTreeMap<String, OptionValue>>,
}

/// One plugin option as the config writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    Boolean(bool),
    Integer(i64),
    Number(f64),
    Text(String),
}

impl std::fmt::Display for OptionValue {
    /// The text the plugin receives: as TOML writes the value, strings bare.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionValue::Boolean(b) => write!(f, "{b}"),
            OptionValue::Integer(i) => write!(f, "{i}"),
            OptionValue::Number(x) => write!(f, "{x:?}"),
            OptionValue::Text(s) => f.write_str(s),
        }
    }
}

/// Limits of one plugin; a key left out keeps `[plugins]`' value.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    pub memory_mib: Option<u64>,
    pub fuel: Option<u64>,
    pub max_consecutive_failures: Option<u32>,
    pub deadline_ms: Option<u64>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            reward: default_reward(),
            prompts: default_prompts(),
            parser: default_parser(),
            memory_mib: default_plugin_memory_mib(),
            fuel: default_plugin_fuel(),
            max_consecutive_failures: default_plugin_failures(),
            deadline_ms: default_plugin_deadline_ms(),
            limits: BTreeMap::new(),
            options: BTreeMap::new(),
        }
    }
}

impl PluginsConfig {
    /// What each plugin call may use (see `crate::plugins::PluginPolicy`).
    pub fn policy(&self) -> PluginPolicy {
        let default = Limits {
            fuel: self.fuel,
            memory_bytes: (self.memory_mib as usize) << 20,
            max_consecutive_failures: self.max_consecutive_failures,
            deadline_ms: self.deadline_ms,
        };
        let by_name = self
            .limits
            .iter()
            .map(|(name, l)| {
                let limits = Limits {
                    fuel: l.fuel.unwrap_or(default.fuel),
                    memory_bytes: l
                        .memory_mib
                        .map_or(default.memory_bytes, |m| (m as usize) << 20),
                    max_consecutive_failures: l
                        .max_consecutive_failures
                        .unwrap_or(default.max_consecutive_failures),
                    deadline_ms: l.deadline_ms.unwrap_or(default.deadline_ms),
                };
                (name.clone(), limits)
            })
            .collect();
        let options = self
            .options
            .iter()
            .map(|(name, table)| {
                let pairs = table.iter().map(|(k, v)| (k.clone(), v.to_string()));
                (name.clone(), pairs.collect())
            })
            .collect();
        PluginPolicy {
            default,
            by_name,
            options,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let check = |key: &str,
                     memory: Option<u64>,
                     fuel: Option<u64>,
                     failures: Option<u32>,
                     deadline: Option<u64>| {
            if let Some(d) = deadline
                && !(1..=MAX_PLUGIN_DEADLINE_MS).contains(&d)
            {
                bail!("key {key}.deadline_ms: {d} is outside 1..={MAX_PLUGIN_DEADLINE_MS} (ms)");
            }
            if let Some(m) = memory
                && !(1..=MAX_PLUGIN_MEMORY_MIB).contains(&m)
            {
                bail!("key {key}.memory_mib: {m} is outside 1..={MAX_PLUGIN_MEMORY_MIB} (MiB)");
            }
            if fuel == Some(0) {
                bail!("key {key}.fuel: must be at least 1");
            }
            if failures == Some(0) {
                bail!("key {key}.max_consecutive_failures: must be at least 1");
            }
            Ok(())
        };
        check(
            "plugins",
            Some(self.memory_mib),
            Some(self.fuel),
            Some(self.max_consecutive_failures),
            Some(self.deadline_ms),
        )?;
        for (name, l) in &self.limits {
            check(
                &format!("plugins.limits.{name}"),
                l.memory_mib,
                l.fuel,
                l.max_consecutive_failures,
                l.deadline_ms,
            )?;
        }
        for (name, table) in &self.options {
            if !is_plugin_name(name) {
                bail!(
                    "key plugins.options.{name}: {name:?} is not a plugin name (lowercase \
                     letters, digits, '-', '_')"
                );
            }
            for (key, value) in table {
                if key.trim().is_empty() {
                    bail!("key plugins.options.{name}: an option with an empty name");
                }
                if let OptionValue::Number(x) = value
                    && !x.is_finite()
                {
                    bail!("key plugins.options.{name}.{key}: {x} is not a finite number");
                }
            }
        }
        Ok(())
    }
}

fn default_plugin_memory_mib() -> u64 {
    (Limits::default().memory_bytes >> 20) as u64
}

fn default_plugin_deadline_ms() -> u64 {
    Limits::default().deadline_ms
}

fn default_plugin_fuel() -> u64 {
    Limits::default().fuel
}

fn default_plugin_failures() -> u32 {
    Limits::default().max_consecutive_failures
}

fn default_reward() -> String {
    "reward-econ".into()
}

fn default_prompts() -> String {
    "prompts-econ".into()
}

fn default_parser() -> String {
    "parser-boxed".into()
}
