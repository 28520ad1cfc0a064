//! Registry credentials and the token dance: where a user name and password
//! come from (the environment, or Docker's config as `docker login` writes
//! it), and how a 401's challenge is answered. Nothing here prints a secret.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;

/// Environment variables that give credentials for every registry.
pub const USERNAME_ENV: &str = "ECON_HOST_REGISTRY_USERNAME";
pub const PASSWORD_ENV: &str = "ECON_HOST_REGISTRY_PASSWORD";

/// A user name and password (or token). Debug shows the user only.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn basic(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.username, Some(&self.password))
    }

    /// The `Authorization` value of HTTP Basic with these credentials.
    pub fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// `text` with the password replaced by `***` (a registry may echo it).
    pub fn mask(&self, text: &str) -> String {
        if self.password.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.password, "***")
    }
}

/// Credentials for `registry`: both environment variables, else the entry
/// for it in Docker's config.json (`$DOCKER_CONFIG`, else ~/.docker), else
/// none (anonymous).
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    match (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV)) {
        (Ok(u), Ok(p)) if !u.is_empty() => return Ok(Some(Credentials::new(u, p))),
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => {
            return Err(anyhow!(
                "set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither"
            ));
        }
        _ => {}
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    from_docker_config(&text, registry).with_context(|| format!("{}", path.display()))
}

fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
    }
}

/// The `auths` entry of a Docker config for `registry` (keys may carry a
/// scheme: "https://ghcr.io"). A registry served by a credential helper
/// (`credHelpers`, `credsStore`) is said to be unsupported, not skipped in
/// silence.
fn from_docker_config(text: &str, registry: &str) -> Result<Option<Credentials>> {
    let config: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow!("not JSON: {e}"))?;
    let host = |key: &str| {
        key.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let entry = config["auths"]
        .as_object()
        .and_then(|auths| auths.iter().find(|(k, _)| host(k) == registry))
        .map(|(_, v)| v);
    let Some(entry) = entry else {
        if config["credHelpers"].get(registry).is_some() || config["credsStore"].is_string() {
            tracing::warn!(
                "registry {registry}: its credentials are kept by a Docker credential helper, \
                 which econ-host does not run; set {USERNAME_ENV} and {PASSWORD_ENV}"
            );
        }
        return Ok(None);
    };
    if let Some(auth) = entry["auth"].as_str() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| anyhow!("auths.{registry}.auth is not base64"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| anyhow!("auths.{registry}.auth is not UTF-8"))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| anyhow!("auths.{registry}.auth is not user:password"))?;
        return Ok(Some(Credentials::new(u, p)));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(u), Some(p)) => Ok(Some(Credentials::new(u, p))),
        _ => Ok(None),
    }
}

/// A 401's `WWW-Authenticate`: send the credentials as they are, or fetch a
/// bearer token first.
#[derive(Debug, PartialEq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        let mut scope = None;
        for (key, value) in params_of(params) {
            match key.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(value),
                "service" => service = Some(value),
                "scope" => scope = Some(value),
                _ => {}
            }
        }
        Some(Challenge::Bearer {
            realm: realm?,
            service,
            scope,
        })
    }
}

/// `key="value", key=value` pairs (values may hold commas inside quotes).
fn params_of(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start().trim_start_matches(',');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Challenge, Credentials, from_docker_config};

    #[test]
    fn docker_config_entries_are_found_by_host() {
        // "econ:s3cret-pw" in base64.
        let config = r#"{"auths": {"https://ghcr.io": {"auth": "ZWNvbjpzM2NyZXQtcHc="},
                          "127.0.0.1:5000": {"username": "u", "password": "p"}}}"#;
        let c = from_docker_config(config, "ghcr.io").unwrap().unwrap();
        assert_eq!(c.username, "econ");
        assert_eq!(c.basic_header(), "Basic ZWNvbjpzM2NyZXQtcHc=");
        assert_eq!(c.mask("echo s3cret-pw"), "echo ***");
        assert_eq!(format!("{c:?}"), "Credentials(econ, ***)");
        assert!(
            from_docker_config(config, "127.0.0.1:5000")
                .unwrap()
                .is_some()
        );
        assert!(from_docker_config(config, "docker.io").unwrap().is_none());
        let bad = r#"{"auths": {"ghcr.io": {"auth": "%%%"}}}"#;
        let e = from_docker_config(bad, "ghcr.io")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("base64"), "{e}");
        let _ = Credentials::new("a", "b");
    }

    #[test]
    fn challenges_are_read() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                "Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\",scope=\"repository:a/b:pull,push\""
            ),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(Challenge::parse("Negotiate abc"), None);
    }
}
