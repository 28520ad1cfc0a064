//! pip's own configuration files: a machine set up for Python (a TLS
//! inspecting proxy's CA in `cert`, a package mirror in `index-url`) is set up
//! for econ-host too.

use std::path::PathBuf;

/// `key` from pip's config files, the later file winning as in pip
/// (global, user, virtualenv, then `$PIP_CONFIG_FILE`); sections `global`,
/// `download` and `install`.
pub(crate) fn pip_config(key: &str) -> Option<String> {
    let mut files: Vec<PathBuf> = vec!["/etc/xdg/pip/pip.conf".into(), "/etc/pip.conf".into()];
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".pip/pip.conf"));
    }
    if let Some(config) = dirs::config_dir() {
        files.push(config.join("pip/pip.conf"));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        files.push(PathBuf::from(venv).join("pip.conf"));
    }
    if let Some(file) = std::env::var_os("PIP_CONFIG_FILE") {
        files.push(file.into());
    }
    let mut found = None;
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(value) = ini_value(&text, key)
        {
            found = Some(value);
        }
    }
    found
}

pub(crate) fn ini_value(text: &str, want: &str) -> Option<String> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_ascii_lowercase();
        } else if let Some((key, value)) = line.split_once(['=', ':']) {
            let key = key.trim().replace('_', "-").to_ascii_lowercase();
            if key == want && ["global", "download", "install"].contains(&section.as_str()) {
                found = Some(value.trim().to_string());
            }
        }
    }
    found
}
