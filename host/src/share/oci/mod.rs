//! Plugins in OCI registries: `plugins publish FILE oci://...` and
//! `plugins install oci://...`, in the layout wasm-pkg-tools uses
//! ([`artifact`]), so that either tool reads what the other wrote.
//!
//! - Every blob and the manifest are checked against their digests; an
//!   install prints and records the manifest digest it got, and an install
//!   by digest (`@sha256:...`) gets exactly that manifest.
//! - Plain HTTP only for a registry on a loopback address; HTTPS otherwise.
//! - Credentials from the environment or Docker's config ([`auth`]), never
//!   printed.

pub mod artifact;
pub mod auth;
mod client;
pub mod reference;

use anyhow::{Context, Result, anyhow, bail};

use crate::plugins::{MAX_PLUGIN_FILE_BYTES, Plugin, PluginEngine, PluginInfo};
pub use reference::OciRef;

/// Largest config blob read (a plugin's is a few hundred bytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What a publish sent.
pub struct Published {
    /// The target pinned by the manifest's digest.
    pub pinned: OciRef,
    pub size: u64,
}

/// Verify `bytes` as `plugins check` does and push them to `target` (a tag).
pub fn publish(
    engine: &PluginEngine,
    plugin: &Plugin,
    bytes: Vec<u8>,
    target: &OciRef,
) -> Result<Published> {
    let info: &PluginInfo = plugin.info();
    let (imports, exports) = crate::plugins::component_interfaces(engine, &bytes)?;
    let description = artifact::Description {
        name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        author: info.author.clone(),
        world: format!(
            "{}/{}@{}",
            crate::plugins::WIT_PACKAGE,
            info.kind,
            info.wit_version
        ),
        imports,
        exports,
        created: crate::runlog::provenance::now_utc(),
    };
    let size = bytes.len() as u64;
    let built = artifact::build(bytes, &description);
    let digest = push(target, &built).with_context(|| format!("publishing to {target}"))?;
    Ok(Published {
        pinned: target.pinned(&digest),
        size,
    })
}

/// Push an artifact's blobs, then its manifest under `target`'s tag; the
/// manifest's digest.
pub(super) fn push(target: &OciRef, built: &artifact::Artifact) -> Result<String> {
    let reference::Reference::Tag(tag) = &target.reference else {
        bail!("{target}: publish to a tag (NAME:VERSION); a digest names what is already there");
    };
    let credentials = auth::lookup(&target.registry)?;
    let mut registry = client::Registry::new(target, credentials)?;
    super::runtime()?.block_on(async {
        registry
            .push_blob(&artifact::digest_of(&built.layer), &built.layer)
            .await?;
        registry
            .push_blob(&artifact::digest_of(&built.config), &built.config)
            .await?;
        registry.push_manifest(tag, &built.manifest).await
    })
}

/// The component of the artifact at `source`, digest-checked, and the
/// reference pinned by the manifest's digest.
pub fn pull(source: &OciRef) -> Result<(Vec<u8>, OciRef)> {
    pull_layer(source, MAX_PLUGIN_FILE_BYTES, "component")
        .with_context(|| format!("installing from {source}"))
}

/// The one `application/wasm` layer of the artifact at `source` (`what` it
/// holds, for messages), at most `limit` bytes, digest-checked, and the
/// reference pinned by the manifest's digest.
pub(super) fn pull_layer(source: &OciRef, limit: u64, what: &str) -> Result<(Vec<u8>, OciRef)> {
    let credentials = auth::lookup(&source.registry)?;
    let mut registry = client::Registry::new(source, credentials)?;
    super::runtime()?.block_on(async {
        let (bytes, digest) = registry.pull_manifest(source.reference.as_str()).await?;
        let manifest: artifact::Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow!("the manifest is not an OCI image manifest: {e}"))?;
        let layers: Vec<&artifact::Descriptor> = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == artifact::LAYER_MEDIA_TYPE)
            .collect();
        let [layer] = layers[..] else {
            bail!(
                "not a WebAssembly {what} artifact: {} layers of type {} (of {}); \
                     expected one (layer types: {})",
                layers.len(),
                artifact::LAYER_MEDIA_TYPE,
                manifest.layers.len(),
                manifest
                    .layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        if layer.size > limit {
            bail!(
                "its {what} is {} bytes, over the {} KiB allowed",
                layer.size,
                limit >> 10
            );
        }
        if manifest.config.media_type == artifact::CONFIG_MEDIA_TYPE {
            let config = registry
                .pull_blob(&manifest.config.digest, MAX_CONFIG_BYTES)
                .await?;
            let config: artifact::WasmConfig = serde_json::from_slice(&config)
                .map_err(|e| anyhow!("its config blob is not a Wasm config: {e}"))?;
            if !config.layer_digests.is_empty() && !config.layer_digests.contains(&layer.digest) {
                bail!(
                    "its config does not list the {what}'s digest {}",
                    layer.digest
                );
            }
        }
        let bytes = registry.pull_blob(&layer.digest, layer.size).await?;
        Ok((bytes, source.pinned(&digest)))
    })
}
