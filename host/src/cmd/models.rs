//! `econ-host models list|fetch`.

use anyhow::Result;

use crate::error::bad_input;

pub(super) fn models_list(json: bool) -> Result<()> {
    let dir = crate::models::cache_dir();
    let mut listed = Vec::new();
    for (name, spec) in crate::models::catalogue().map_err(bad_input)? {
        let state = match crate::models::fetch::present(&spec, &dir, false)? {
            crate::models::fetch::Presence::Missing => "missing",
            _ => "fetched",
        };
        if json {
            listed.push(serde_json::json!({
                "name": name,
                "state": state,
                "path": dir.join(&spec.file),
                "kind": spec.kind,
                "size": spec.size,
                "sha256": spec.sha256,
                "licence": spec.licence,
                "description": spec.description,
            }));
            continue;
        }
        println!(
            "{name:<18} {:>6.0} MB  {state:<8} {}",
            spec.size as f64 / 1e6,
            spec.description
        );
    }
    if json {
        let out = serde_json::json!({ "cache": dir, "models": listed });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("cache: {}", dir.display());
    }
    Ok(())
}

pub(super) fn models_fetch(
    names: &[String],
    verify: bool,
    index_url: Option<String>,
) -> Result<()> {
    let options = crate::models::fetch::FetchOptions {
        cache: crate::models::cache_dir(),
        verify,
        index_url,
    };
    crate::models::fetch::fetch(names, &options)
}
