//! The OCI distribution API, the part publishing and installing one
//! artifact needs: blobs up (monolithic upload) and down, manifests up and
//! down, and the 401 challenge answered once per registry.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::artifact::{MANIFEST_MEDIA_TYPE, digest_of};
use super::auth::{Challenge, Credentials};
use super::reference::OciRef;
use crate::share::read_capped;

/// Largest manifest read (a plugin's has three short entries).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

pub struct Registry {
    http: reqwest::Client,
    base: String,
    repository: String,
    credentials: Option<Credentials>,
    /// The Authorization header value once a challenge was answered.
    authorization: Option<String>,
}

impl Registry {
    pub fn new(target: &OciRef, credentials: Option<Credentials>) -> Result<Registry> {
        let http = crate::http::tls::client_builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            // A registry may redirect blob downloads to storage elsewhere.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .context("building the HTTP client")?;
        Ok(Registry {
            http,
            base: target.base_url(),
            repository: target.repository.clone(),
            credentials,
            authorization: None,
        })
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repository)
    }

    /// Send the request `build` makes; on a 401, answer the challenge and
    /// send it once more.
    async fn send(
        &mut self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response> {
        let request = |this: &Self| {
            let r = build(&this.http);
            match &this.authorization {
                Some(value) => r.header(reqwest::header::AUTHORIZATION, value.as_str()),
                None => r,
            }
        };
        let response = request(self)
            .send()
            .await
            .map_err(crate::http::tls::explain)
            .with_context(|| format!("registry {}", self.base))?;
        if response.status() != StatusCode::UNAUTHORIZED || self.authorization.is_some() {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(Challenge::parse);
        self.authorization = Some(self.answer(challenge).await?);
        request(self)
            .send()
            .await
            .map_err(crate::http::tls::explain)
            .with_context(|| format!("registry {}", self.base))
    }

    /// The Authorization header for a challenge: Basic with the
    /// credentials, or a Bearer token fetched from the realm with them.
    async fn answer(&self, challenge: Option<Challenge>) -> Result<String> {
        // Exit 2: the user has something to set, not something to retry.
        let no_credentials = || {
            crate::error::bad_input(anyhow!(
                "registry {} asks for credentials: run `docker login {}` or set {} and {}",
                self.base,
                self.base.split("://").nth(1).unwrap_or(&self.base),
                super::auth::USERNAME_ENV,
                super::auth::PASSWORD_ENV
            ))
        };
        match challenge {
            Some(Challenge::Basic) | None => {
                let c = self.credentials.as_ref().ok_or_else(no_credentials)?;
                Ok(c.basic_header())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut query = Vec::new();
                if let Some(s) = service {
                    query.push(("service", s));
                }
                if let Some(s) = scope {
                    query.push(("scope", s));
                }
                let mut r = self.http.get(&realm).query(&query);
                if let Some(c) = &self.credentials {
                    r = c.basic(r);
                }
                let response = r
                    .send()
                    .await
                    .map_err(crate::http::tls::explain)
                    .with_context(|| format!("token service of registry {}", self.base))?;
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(crate::error::bad_input(anyhow!(
                        "the token service of registry {} refused the credentials ({status})",
                        self.base
                    )));
                }
                let body: serde_json::Value = response
                    .json()
                    .await
                    .with_context(|| format!("token service of registry {}", self.base))?;
                let token = body["token"]
                    .as_str()
                    .or(body["access_token"].as_str())
                    .ok_or_else(|| anyhow!("the token service of {} gave no token", self.base))?;
                Ok(format!("Bearer {token}"))
            }
        }
    }

    /// A refusal or failure said with the status and the registry's own
    /// words (passwords masked).
    async fn failed(&self, what: &str, response: Response) -> anyhow::Error {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(300).collect();
        let text = match &self.credentials {
            Some(c) => c.mask(&text),
            None => text,
        };
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "; check the credentials (`docker login`, or ECON_HOST_REGISTRY_USERNAME/PASSWORD)"
            }
            StatusCode::NOT_FOUND => "; check the registry, repository and tag",
            _ => "",
        };
        let error = anyhow!(
            "{what}: the registry answered {status}{hint}: {}",
            crate::error::printable(text.trim())
        );
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                crate::error::bad_input(error)
            }
            _ => error,
        }
    }

    /// Upload `bytes` as the blob `digest` unless the registry has it.
    pub async fn push_blob(&mut self, digest: &str, bytes: &[u8]) -> Result<()> {
        let blob_url = self.url(&format!("blobs/{digest}"));
        let head = self.send(|h| h.request(Method::HEAD, &blob_url)).await?;
        if head.status().is_success() {
            return Ok(());
        }
        let start_url = self.url("blobs/uploads/");
        let started = self.send(|h| h.post(&start_url)).await?;
        if started.status() != StatusCode::ACCEPTED {
            return Err(self.failed("starting a blob upload", started).await);
        }
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("the registry gave no upload location"))?
            .to_string();
        let mut upload = reqwest::Url::parse(&location)
            .or_else(|_| reqwest::Url::parse(&self.base).and_then(|b| b.join(&location)))
            .with_context(|| format!("upload location {location:?}"))?;
        upload.query_pairs_mut().append_pair("digest", digest);
        let body = bytes.to_vec();
        let done = self
            .send(|h| {
                h.put(upload.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            })
            .await?;
        if done.status() != StatusCode::CREATED {
            return Err(self.failed(&format!("uploading blob {digest}"), done).await);
        }
        Ok(())
    }

    /// Put the manifest under `reference` (a tag); the digest it is known by.
    pub async fn push_manifest(&mut self, reference: &str, manifest: &[u8]) -> Result<String> {
        let url = self.url(&format!("manifests/{reference}"));
        let body = manifest.to_vec();
        let response = self
            .send(|h| {
                h.put(&url)
                    .header(CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
                    .body(body.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.failed("putting the manifest", response).await);
        }
        Ok(digest_of(manifest))
    }

    /// The manifest under `reference` and its digest (computed from the
    /// bytes; a digest reference or the registry's own header must agree).
    pub async fn pull_manifest(&mut self, reference: &str) -> Result<(Vec<u8>, String)> {
        let url = self.url(&format!("manifests/{reference}"));
        let response = self
            .send(|h| h.get(&url).header(ACCEPT, MANIFEST_MEDIA_TYPE))
            .await?;
        if !response.status().is_success() {
            return Err(self.failed("reading the manifest", response).await);
        }
        let said = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_capped(response, MAX_MANIFEST_BYTES as u64, "the manifest").await?;
        let digest = digest_of(&bytes);
        if reference.starts_with("sha256:") && reference != digest {
            bail!("the manifest's digest is {digest}, not the {reference} asked for: refused");
        }
        if let Some(said) = said
            && said.starts_with("sha256:")
            && said != digest
        {
            bail!(
                "the registry says the manifest is {said}, but its bytes hash to {digest}: refused"
            );
        }
        Ok((bytes, digest))
    }

    /// The blob `digest`, at most `limit` bytes, refused unless its bytes
    /// hash to `digest`.
    pub async fn pull_blob(&mut self, digest: &str, limit: u64) -> Result<Vec<u8>> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(|h| h.get(&url)).await?;
        if !response.status().is_success() {
            return Err(self
                .failed(&format!("reading blob {digest}"), response)
                .await);
        }
        let bytes = read_capped(response, limit, &format!("blob {digest}")).await?;
        let got = digest_of(&bytes);
        if got != digest {
            bail!(
                "blob {digest}: its bytes hash to {got}; the registry's copy is not what was \
                 published: refused"
            );
        }
        Ok(bytes)
    }
}
