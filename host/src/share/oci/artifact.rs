//! A WebAssembly component as an OCI artifact, in the layout of the CNCF
//! "Wasm OCI artifact" format that wasm-pkg-tools (`wkg oci push/pull`)
//! writes and reads: an image manifest whose config has media type
//! `application/vnd.wasm.config.v0+json` and whose one layer is the
//! component itself, `application/wasm`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

/// `sha256:` and the lowercase hex of `bytes`' SHA-256.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest_of(bytes),
            size: bytes.len() as u64,
            annotations: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The config blob: what the artifact is, without opening the component.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    pub created: String,
    #[serde(default)]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub layer_digests: Vec<String>,
    #[serde(default)]
    pub component: Option<ComponentInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentInfo {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    #[serde(default)]
    pub target: Option<String>,
}

/// What `publish` sends: the config blob, the layer and the manifest, each
/// as the bytes whose digest names it.
pub struct Artifact {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
}

/// Describe one plugin: the plugin's own name, version and description as
/// the standard annotations, its kind and WIT world as econ-host's.
pub struct Description {
    pub name: String,
    pub version: String,
    pub description: String,
    pub author: String,
    /// e.g. "econ:plugins/reward@0.2.0"; a WIT package's own name for a
    /// package.
    pub world: String,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub created: String,
}

/// Annotation keys econ-host adds beside the standard ones.
pub const KIND_ANNOTATION: &str = "dev.econ-host.plugin.world";

pub fn build(component: Vec<u8>, d: &Description) -> Artifact {
    let layer = Descriptor::of(LAYER_MEDIA_TYPE, &component);
    let config = WasmConfig {
        created: d.created.clone(),
        author: (!d.author.is_empty()).then(|| d.author.clone()),
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer.digest.clone()],
        // A WIT package (no imports, no exports) is not a component to run.
        component: (!d.exports.is_empty() || !d.imports.is_empty()).then(|| ComponentInfo {
            exports: d.exports.clone(),
            imports: d.imports.clone(),
            target: Some(d.world.clone()),
        }),
    };
    let config = serde_json::to_vec(&config).expect("the config serialises");
    let annotations: BTreeMap<String, String> = [
        ("org.opencontainers.image.title", d.name.as_str()),
        ("org.opencontainers.image.version", d.version.as_str()),
        (
            "org.opencontainers.image.description",
            d.description.as_str(),
        ),
        ("org.opencontainers.image.created", d.created.as_str()),
        (KIND_ANNOTATION, d.world.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.into()),
        artifact_type: None,
        config: Descriptor::of(CONFIG_MEDIA_TYPE, &config),
        layers: vec![layer],
        annotations: Some(annotations),
    };
    let manifest = serde_json::to_vec(&manifest).expect("the manifest serialises");
    Artifact {
        config,
        layer: component,
        manifest,
    }
}
